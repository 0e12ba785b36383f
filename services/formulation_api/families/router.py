import uuid
from typing import Annotated, Literal

from fastapi import Depends, Query, Request, Response
from sqlalchemy import select

from services.formulation_api.families import repository, service
from services.formulation_api.families.access import visible_filter
from services.formulation_api.families.models import (
    Consent,
    Family,
    FamilyMember,
    FamilyRelationship,
)
from services.formulation_api.families.schemas import (
    CloseFamily,
    ConsentIn,
    ConsentOut,
    EscalateFamily,
    FamilyMemberIn,
    FamilyMemberOut,
    FamilyOut,
    LeadWorkerIn,
    LeadWorkerOut,
    RelationshipIn,
    RelationshipOut,
)
from shared import audit
from shared.auth import Principal, Role, allow
from shared.deps import DbSession
from shared.http import APIRouter, etag_for
from shared.pagination import CursorParams, Page, paginate

router = APIRouter(prefix="/v1/families", tags=["families"])
Staff = Annotated[Principal, Depends(allow(Role.PRACTITIONER, Role.TEAM_MANAGER, Role.RETHINK_FACILITATOR))]
Workers = Annotated[Principal, Depends(allow(Role.PRACTITIONER, Role.TEAM_MANAGER))]
Allocators = Annotated[Principal, Depends(allow(Role.TEAM_MANAGER, Role.ADMIN))]


@router.get("", response_model=Page[FamilyOut], summary="Families you may see (audited)")
async def list_families(
    user: Staff,
    session: DbSession,
    params: Annotated[CursorParams, Depends()],
    status: Annotated[Literal["open", "closed"] | None, Query()] = None,
) -> Page[FamilyOut]:
    stmt = select(Family).where(visible_filter(user))
    if status:
        stmt = stmt.where(Family.status == status)
    page = await paginate(
        session,
        stmt,
        params,
        key=Family.created_at,
        id_col=Family.id,
        to_item=FamilyOut.model_validate,
    )
    await audit.record_many(session, user, "read", "family", [f.id for f in page.items])
    return page


@router.get("/{family_id}", response_model=FamilyOut, summary="Read a family (audited)")
async def get_family(user: Staff, family_id: uuid.UUID, session: DbSession, response: Response) -> FamilyOut:
    family = await service.visible_family(session, user, family_id)
    await audit.record(session, user, "read", "family", family.id)
    out = FamilyOut.model_validate(family)
    out.members = [FamilyMemberOut.model_validate(m) for m in await repository.members(session, family.id)]
    out.relationships = [
        RelationshipOut.model_validate(r) for r in await repository.relationships(session, family.id)
    ]
    response.headers["ETag"] = etag_for(family.revision)
    return out


@router.post("/{family_id}/members", status_code=201, response_model=FamilyMemberOut, summary="Add a member")
async def add_member(
    user: Workers, family_id: uuid.UUID, body: FamilyMemberIn, session: DbSession
) -> FamilyMember:
    return await service.add_member(session, user, family_id, body)


@router.post(
    "/{family_id}/relationships",
    status_code=201,
    response_model=RelationshipOut,
    summary="Record a relationship between two members (genogram)",
)
async def add_relationship(
    user: Workers, family_id: uuid.UUID, body: RelationshipIn, session: DbSession
) -> FamilyRelationship:
    return await service.add_relationship(session, user, family_id, body)


@router.post("/{family_id}/consents", status_code=201, response_model=ConsentOut, summary="Record consent")
async def add_consent(user: Workers, family_id: uuid.UUID, body: ConsentIn, session: DbSession) -> Consent:
    return await service.record_consent(session, user, family_id, body)


@router.get("/{family_id}/consents", response_model=list[ConsentOut], summary="List consents")
async def list_consents(user: Staff, family_id: uuid.UUID, session: DbSession) -> list[Consent]:
    family = await service.visible_family(session, user, family_id)
    consents = list(await repository.consents(session, family.id))
    await audit.record(session, user, "read", "family", family.id)
    return consents


@router.post(
    "/{family_id}/consents/{consent_id}/withdraw",
    response_model=ConsentOut,
    summary="Withdraw consent",
)
async def withdraw(user: Workers, family_id: uuid.UUID, consent_id: uuid.UUID, session: DbSession) -> Consent:
    return await service.withdraw_consent(session, user, family_id, consent_id)


@router.post("/{family_id}/close", response_model=FamilyOut, summary="Close the family's case")
async def close(user: Workers, family_id: uuid.UUID, body: CloseFamily, session: DbSession) -> FamilyOut:
    return FamilyOut.model_validate(await service.close(session, user, family_id, body))


@router.post("/{family_id}/escalate", response_model=FamilyOut, summary="Escalate to area social work")
async def escalate(
    user: Workers, family_id: uuid.UUID, body: EscalateFamily, session: DbSession
) -> FamilyOut:
    return FamilyOut.model_validate(await service.escalate(session, user, family_id, body))


@router.put(
    "/{family_id}/lead-worker",
    response_model=LeadWorkerOut,
    summary="Change the lead worker of an open family (own teams; caseload limits; If-Match optional)",
)
async def change_lead_worker(
    user: Allocators,
    family_id: uuid.UUID,
    body: LeadWorkerIn,
    request: Request,
    response: Response,
    session: DbSession,
) -> LeadWorkerOut:
    family = await service.change_lead_worker(session, user, family_id, body, request)
    response.headers["ETag"] = etag_for(family.revision)
    return LeadWorkerOut.model_validate(family)
