import uuid
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Body, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from services.formulation_api.families.consent import ConsentScope
from services.formulation_api.families.service import require_consent, visible_family
from services.formulation_api.formulations import export, repository, service
from services.formulation_api.formulations.models import Reflection
from services.formulation_api.formulations.rules import FormulationContext, FormulationStatus
from services.formulation_api.formulations.schemas import (
    CompleteIn,
    FactorIn,
    FactorOut,
    FactorPatch,
    FormulationCreate,
    FormulationCreated,
    FormulationOut,
    GoalOut,
    NextStepsIn,
    Prioritisation,
    ReflectionIn,
    ReflectionOut,
    StepOut,
    WalkBackOut,
)
from shared import audit
from shared.auth import Principal, Role, allow
from shared.deps import DbSession
from shared.errors import conflict, unprocessable
from shared.http import STATIC_HTML_HEADERS, APIRouter, etag_for

router = APIRouter(tags=["formulations"])
Staff = Annotated[Principal, Depends(allow(Role.PRACTITIONER, Role.TEAM_MANAGER, Role.RETHINK_FACILITATOR))]
FormulationId = uuid.UUID


def _out(loaded: service.Loaded) -> FormulationOut:
    f = loaded.formulation
    return FormulationOut(
        id=f.id,
        family_id=f.family_id,
        version=f.version,
        previous_id=f.previous_id,
        status=f.status,
        context=FormulationContext(f.context),
        facilitator_sub=f.facilitator_sub,
        participants=f.participants,
        summary=f.summary,
        overall_goal=GoalOut(text=f.overall_goal, factor_ids=list(f.goal_factor_ids)),
        factors=[FactorOut.model_validate(x) for x in loaded.factors],
        steps=[StepOut.model_validate(s) for s in loaded.steps],
        completed_on=f.completed_on,
        completed_by=f.completed_by,
        override_reason=f.override_reason,
        reformulation_requested_on=loaded.reformulation_requested_on,
        revision=f.revision,
    )


def _etag(response: Response, revision: int) -> None:
    response.headers["ETag"] = etag_for(revision)


@router.post(
    "/v1/families/{family_id}/formulations",
    status_code=201,
    response_model=FormulationCreated,
    summary=(
        "Start a draft Rethink Formulation for a family (context group_supervision needs the "
        "family's group-supervision consent, for this and every later change)"
    ),
)
async def create(
    user: Staff,
    family_id: uuid.UUID,
    body: FormulationCreate,
    session: DbSession,
    response: Response,
) -> FormulationCreated:
    f = await service.create(session, user, family_id, body)
    _etag(response, f.revision)
    return FormulationCreated.model_validate(f)


@router.get(
    "/v1/families/{family_id}/formulations",
    response_model=list[FormulationCreated],
    summary="A family's formulation versions",
)
async def list_for_family(user: Staff, family_id: uuid.UUID, session: DbSession) -> list[FormulationCreated]:
    family = await visible_family(session, user, family_id)
    versions = await repository.for_family(session, family.id)
    await audit.record(session, user, "read", "family", family.id)
    return [FormulationCreated.model_validate(f) for f in versions]


@router.get(
    "/v1/formulations/{formulation_id}",
    response_model=FormulationOut,
    summary="Read a formulation: factors, 4 Ps, next steps (audited; ETag for If-Match)",
)
async def get(
    user: Staff, formulation_id: FormulationId, session: DbSession, response: Response
) -> FormulationOut:
    loaded = await service.load(session, user, formulation_id)
    await audit.record(session, user, "read", "formulation", formulation_id)
    _etag(response, loaded.formulation.revision)
    return _out(loaded)


@router.post(
    "/v1/formulations/{formulation_id}/factors",
    status_code=201,
    response_model=FactorOut,
    summary="Add a factor under one of the 6 Ps (If-Match required)",
)
async def add_factor(
    user: Staff,
    formulation_id: FormulationId,
    body: FactorIn,
    request: Request,
    session: DbSession,
    response: Response,
) -> Any:
    factor = await service.add_factor(session, user, request, formulation_id, body)
    await _etag_now(session, formulation_id, response)
    return factor


async def _etag_now(session: DbSession, formulation_id: uuid.UUID, response: Response) -> None:
    f = await repository.get(session, formulation_id)
    if f is not None:
        _etag(response, f.revision)


@router.patch(
    "/v1/formulations/{formulation_id}/factors/{factor_id}",
    response_model=FactorOut,
    summary="Change a factor's text or driving mark (If-Match required)",
)
async def patch_factor(
    user: Staff,
    formulation_id: FormulationId,
    factor_id: uuid.UUID,
    body: FactorPatch,
    request: Request,
    session: DbSession,
    response: Response,
) -> Any:
    factor = await service.patch_factor(session, user, request, formulation_id, factor_id, body)
    await _etag_now(session, formulation_id, response)
    return factor


@router.delete(
    "/v1/formulations/{formulation_id}/factors/{factor_id}",
    status_code=204,
    summary="Remove a factor (If-Match required)",
)
async def delete_factor(
    user: Staff,
    formulation_id: FormulationId,
    factor_id: uuid.UUID,
    request: Request,
    session: DbSession,
) -> Response:
    f = await service.delete_factor(session, user, request, formulation_id, factor_id)
    return Response(status_code=204, headers={"ETag": etag_for(f.revision)})


@router.put(
    "/v1/formulations/{formulation_id}/factors/{factor_id}/prioritisation",
    response_model=FactorOut,
    summary="Apply the 4 Ps to a perpetuating factor (priority only when all four hold; If-Match)",
)
async def prioritise(
    user: Staff,
    formulation_id: FormulationId,
    factor_id: uuid.UUID,
    body: Prioritisation,
    request: Request,
    session: DbSession,
    response: Response,
) -> Any:
    factor = await service.prioritise(session, user, request, formulation_id, factor_id, body)
    await _etag_now(session, formulation_id, response)
    return factor


@router.put(
    "/v1/formulations/{formulation_id}/next-steps",
    response_model=FormulationOut,
    summary="Set the summary, overall goal and next steps (If-Match required)",
)
async def put_next_steps(
    user: Staff,
    formulation_id: FormulationId,
    body: NextStepsIn,
    request: Request,
    session: DbSession,
    response: Response,
) -> FormulationOut:
    await service.set_next_steps(session, user, request, formulation_id, body)
    loaded = await service.load(session, user, formulation_id)
    _etag(response, loaded.formulation.revision)
    return _out(loaded)


@router.get(
    "/v1/formulations/{formulation_id}/walk-back",
    response_model=WalkBackOut,
    summary="Check that every next step traces back to the presenting issues",
)
async def get_walk_back(user: Staff, formulation_id: FormulationId, session: DbSession) -> WalkBackOut:
    loaded = await service.load(session, user, formulation_id)
    await audit.record(session, user, "read", "formulation", formulation_id)
    result = service.walk_back_of(loaded)
    return WalkBackOut(ok=result.ok, problems=[p.as_dict() for p in result.problems])


@router.post(
    "/v1/formulations/{formulation_id}/complete",
    response_model=FormulationOut,
    summary="Complete: needs a clean walk-back or a team manager's override reason (If-Match required)",
)
async def complete(
    user: Staff,
    formulation_id: FormulationId,
    request: Request,
    session: DbSession,
    response: Response,
    body: Annotated[CompleteIn | None, Body()] = None,
) -> FormulationOut:
    await service.complete(session, user, request, formulation_id, body)
    loaded = await service.load(session, user, formulation_id)
    _etag(response, loaded.formulation.revision)
    return _out(loaded)


@router.post(
    "/v1/formulations/{formulation_id}/reformulate",
    status_code=201,
    response_model=FormulationCreated,
    summary=(
        "Open a new draft version linked to this completed one, the family's latest (same consent "
        "gate as creating); completing the new version supersedes this one"
    ),
)
async def reformulate(
    user: Staff, formulation_id: FormulationId, session: DbSession, response: Response
) -> FormulationCreated:
    new = await service.reformulate(session, user, formulation_id)
    _etag(response, new.revision)
    return FormulationCreated.model_validate(new)


@router.post(
    "/v1/formulations/{formulation_id}/reflections",
    status_code=201,
    response_model=ReflectionOut,
    summary="Four Ways of Being reflection (with / to / for / not)",
)
async def reflect(
    user: Staff, formulation_id: FormulationId, body: ReflectionIn, session: DbSession
) -> Reflection:
    return await service.reflect(session, user, formulation_id, body)


@router.get(
    "/v1/formulations/{formulation_id}/reflections",
    response_model=list[ReflectionOut],
    summary="Four Ways of Being reflections on a formulation (audited)",
)
async def list_reflections(
    user: Staff, formulation_id: FormulationId, session: DbSession
) -> list[Reflection]:
    loaded = await service.load(session, user, formulation_id)
    rows = await repository.reflections(session, loaded.formulation.id)
    await audit.record(session, user, "read", "formulation", formulation_id)
    return list(rows)


class ExportFormat(StrEnum):
    JSON = "json"
    HTML = "html"


class Recipient(StrEnum):
    FAMILY = "family"
    AGENCY = "agency"


@router.get(
    "/v1/formulations/{formulation_id}/export",
    summary="Portable JSON or printable HTML for the family or a consented agency (audited)",
    responses={200: {"content": {"application/json": {}, "text/html": {}}}},
)
async def export_formulation(
    user: Staff,
    formulation_id: FormulationId,
    session: DbSession,
    format: Annotated[ExportFormat, Query()] = ExportFormat.JSON,
    recipient: Annotated[Recipient, Query()] = Recipient.FAMILY,
    agency: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> Response:
    loaded = await service.load(session, user, formulation_id)
    # A superseded version was completed too: it stays the record of what was agreed then.
    if loaded.formulation.status == FormulationStatus.DRAFT.value:
        raise conflict("formulation_not_completed", "only a completed formulation is exported")
    if recipient is Recipient.AGENCY:
        if not agency:
            raise unprocessable("query.agency", "agency_required", "name the agency")
        await require_consent(
            session, loaded.family.id, ConsentScope.SHARE_WITH_AGENCY, field="query.agency", agency=agency
        )
    elif agency:
        raise unprocessable("query.agency", "agency_not_applicable", "agency is for recipient=agency")
    await audit.record(session, user, "export", "formulation", formulation_id)
    doc = export.document(
        _out(loaded).model_dump(mode="json"), loaded.family.reference_name, recipient.value, agency
    )
    if format is ExportFormat.HTML:
        return HTMLResponse(export.html(doc), headers=STATIC_HTML_HEADERS)
    return JSONResponse(doc)
