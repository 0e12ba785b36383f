"""Outcome-focused supervision; a family is discussed in group supervision only with its consent."""

import uuid
from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy import select

from services.formulation_api.common import now, team_uuids
from services.formulation_api.families.consent import ConsentScope
from services.formulation_api.families.service import require_consent, visible_family
from services.formulation_api.formulations.models import Reflection
from services.formulation_api.formulations.schemas import ReflectionOut
from services.formulation_api.supervision.models import SupervisionCase, SupervisionSession
from services.formulation_api.supervision.schemas import (
    CaseIn,
    CaseOut,
    SessionIn,
    SessionOut,
    SessionReflectionIn,
    SupervisionKind,
)
from services.formulation_api.teams import service as teams
from shared import audit, clock
from shared.auth import Principal, Role, allow
from shared.deps import DbSession
from shared.errors import forbidden, not_found, unprocessable
from shared.http import APIRouter
from shared.pagination import CursorParams, Page, paginate

router = APIRouter(prefix="/v1/supervision-sessions", tags=["supervision"])
Supervisors = Annotated[Principal, Depends(allow(Role.TEAM_MANAGER, Role.PRACTITIONER))]


async def _session_for(session: DbSession, user: Principal, session_id: uuid.UUID) -> SupervisionSession:
    sup = (
        await session.scalars(select(SupervisionSession).where(SupervisionSession.id == session_id))
    ).one_or_none()
    if sup is None:
        raise not_found("supervision session", session_id)
    if not user.in_team(sup.team_id):
        raise forbidden("this session belongs to another team", rule="team_scope")
    return sup


def _as_of(day: date) -> datetime:
    """Consent as it stood at the end of the session's (local) day; for today's session, now."""
    if day >= clock.today():
        return now()
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=clock.zone()) - timedelta(microseconds=1)


@router.post("", status_code=201, response_model=SessionOut, summary="Record a session")
async def create_session(user: Supervisors, body: SessionIn, session: DbSession) -> SupervisionSession:
    await teams.require_team(session, body.team_id)
    if not user.in_team(body.team_id):
        raise forbidden("you are not in this team", rule="team_scope")
    sup = SupervisionSession(
        team_id=body.team_id, kind=body.kind.value, held_on=body.held_on, supervisor_sub=user.sub
    )
    session.add(sup)
    await session.flush()
    await audit.record(session, user, "create", "supervision_session", sup.id)
    return sup


@router.post(
    "/{session_id}/cases",
    status_code=201,
    response_model=CaseOut,
    summary="Discuss a case (group supervision needs the family's consent on the day of the session)",
)
async def add_case(
    user: Supervisors, session_id: uuid.UUID, body: CaseIn, session: DbSession
) -> SupervisionCase:
    sup = await _session_for(session, user, session_id)
    family = await visible_family(session, user, body.family_id)
    if family.team_id != sup.team_id:
        raise unprocessable("body.family_id", "family_not_in_team", "the family is another team's")
    if sup.kind == SupervisionKind.GROUP.value:
        # Consent as it stood on the day of the session, not on the day the case is written up.
        await require_consent(
            session,
            family.id,
            ConsentScope.GROUP_SUPERVISION,
            field="body.family_id",
            at=_as_of(sup.held_on),
        )
    case = SupervisionCase(session_id=sup.id, **body.model_dump())
    session.add(case)
    await session.flush()
    await audit.record(session, user, "create", "supervision_case", case.id)
    return case


@router.get("/{session_id}/cases", response_model=list[CaseOut], summary="Cases discussed")
async def list_cases(user: Supervisors, session_id: uuid.UUID, session: DbSession) -> list[SupervisionCase]:
    sup = await _session_for(session, user, session_id)
    cases = list(
        (await session.scalars(select(SupervisionCase).where(SupervisionCase.session_id == sup.id))).all()
    )
    await audit.record_many(session, user, "read", "family", [c.family_id for c in cases])
    return cases


@router.post(
    "/{session_id}/reflections",
    status_code=201,
    response_model=ReflectionOut,
    summary="Four Ways of Being reflection on a session",
)
async def reflect(
    user: Supervisors, session_id: uuid.UUID, body: SessionReflectionIn, session: DbSession
) -> Reflection:
    sup = await _session_for(session, user, session_id)
    reflection = Reflection(supervision_id=sup.id, way=body.way.value, note=body.note, recorded_by=user.sub)
    session.add(reflection)
    await session.flush()
    await audit.record(session, user, "create", "reflection", reflection.id)
    return reflection


@router.get(
    "",
    response_model=Page[SessionOut],
    summary="Supervision sessions of your teams",
)
async def list_sessions(
    user: Supervisors,
    session: DbSession,
    params: Annotated[CursorParams, Depends()],
    team_id: Annotated[uuid.UUID | None, Query(description="Only this team's sessions")] = None,
    kind: Annotated[SupervisionKind | None, Query()] = None,
) -> Page[SessionOut]:
    teams_seen = team_uuids(user.teams)
    if team_id is not None:
        if team_id not in teams_seen:
            raise forbidden("you are not in this team", rule="team_scope")
        teams_seen = [team_id]
    stmt = select(SupervisionSession).where(SupervisionSession.team_id.in_(teams_seen))
    if kind is not None:
        stmt = stmt.where(SupervisionSession.kind == kind.value)
    return await paginate(
        session,
        stmt,
        params,
        key=SupervisionSession.created_at,
        id_col=SupervisionSession.id,
        to_item=SessionOut.model_validate,
    )


@router.get("/{session_id}", response_model=SessionOut, summary="Read a supervision session")
async def get_session(user: Supervisors, session_id: uuid.UUID, session: DbSession) -> SupervisionSession:
    return await _session_for(session, user, session_id)


@router.get(
    "/{session_id}/reflections",
    response_model=list[ReflectionOut],
    summary="Four Ways of Being reflections on a session (audited: notes may be personal)",
)
async def list_reflections(user: Supervisors, session_id: uuid.UUID, session: DbSession) -> list[Reflection]:
    sup = await _session_for(session, user, session_id)
    rows = list(
        (
            await session.scalars(
                select(Reflection).where(Reflection.supervision_id == sup.id).order_by(Reflection.created_at)
            )
        ).all()
    )
    await audit.record_many(session, user, "read", "reflection", [r.id for r in rows])
    return rows
