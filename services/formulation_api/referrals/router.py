import uuid
from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy import select

from services.formulation_api.referrals import service
from services.formulation_api.referrals.access import visible_filter
from services.formulation_api.referrals.models import Referral
from services.formulation_api.referrals.rules import ReferralStatus
from services.formulation_api.referrals.schemas import (
    AcceptedOut,
    AcceptIn,
    ConversationIn,
    DeclineIn,
    RedirectIn,
    ReferralCreate,
    ReferralCreated,
    ReferralOut,
    ReferralStatusOut,
)
from shared import audit
from shared.auth import Principal, Role, allow
from shared.deps import DbSession
from shared.http import APIRouter
from shared.pagination import CursorParams, Page, paginate

router = APIRouter(prefix="/v1/referrals", tags=["referrals"])
Referrers = Annotated[Principal, Depends(allow(Role.PARTNER_SYSTEM, Role.PRACTITIONER, Role.TEAM_MANAGER))]
Readers = Annotated[Principal, Depends(allow(Role.PARTNER_SYSTEM, Role.PRACTITIONER, Role.TEAM_MANAGER))]
Managers = Annotated[Principal, Depends(allow(Role.TEAM_MANAGER))]


@router.post(
    "",
    status_code=201,
    response_model=ReferralCreated,
    summary="Post a referral (a known family is linked by its team's staff only)",
)
async def create_referral(user: Referrers, body: ReferralCreate, session: DbSession) -> Referral:
    return await service.receive(session, user, body)


@router.get(
    "",
    response_model=Page[ReferralOut] | Page[ReferralStatusOut],
    summary=(
        "Referrals: a partner system's own (status only); staff: those of families they may see, "
        "and, for team managers, their clusters' referrals without a family yet (audited)"
    ),
)
async def list_referrals(
    user: Readers,
    session: DbSession,
    params: Annotated[CursorParams, Depends()],
    status: Annotated[ReferralStatus | None, Query()] = None,
) -> Page[ReferralOut] | Page[ReferralStatusOut]:
    stmt = select(Referral)
    if status:
        stmt = stmt.where(Referral.status == status.value)
    if user.role is Role.PARTNER_SYSTEM:
        return await paginate(
            session,
            stmt.where(Referral.created_by == user.sub),
            params,
            key=Referral.created_at,
            id_col=Referral.id,
            to_item=ReferralStatusOut.model_validate,
        )
    page = await paginate(
        session,
        stmt.where(visible_filter(user)),
        params,
        key=Referral.created_at,
        id_col=Referral.id,
        to_item=ReferralOut.model_validate,
    )
    await audit.record_many(session, user, "read", "referral", [r.id for r in page.items])
    return page


@router.get(
    "/{referral_id}",
    response_model=ReferralOut | ReferralStatusOut,
    summary=(
        "Read a referral (partner systems: the status of their own; staff: as in the list, "
        "403 family_scope or cluster_scope otherwise)"
    ),
)
async def get_referral(
    user: Readers, referral_id: uuid.UUID, session: DbSession
) -> ReferralOut | ReferralStatusOut:
    referral = await service.get_for(session, user, referral_id)
    if user.role is Role.PARTNER_SYSTEM:
        return ReferralStatusOut.model_validate(referral)
    await audit.record(session, user, "read", "referral", referral.id)
    return ReferralOut.model_validate(referral)


@router.post("/{referral_id}/conversation", response_model=ReferralOut, summary="Record the conversation")
async def conversation(
    user: Managers, referral_id: uuid.UUID, body: ConversationIn, session: DbSession
) -> Referral:
    return await service.record_conversation(session, user, referral_id, body)


@router.post(
    "/{referral_id}/accept",
    response_model=AcceptedOut,
    summary="Accept and allocate a lead worker (409 when no capacity: there is no waiting list)",
)
async def accept(user: Managers, referral_id: uuid.UUID, body: AcceptIn, session: DbSession) -> AcceptedOut:
    referral = await service.accept(session, user, referral_id, body)
    assert referral.family_id is not None
    family_team, lead = await _team_and_lead(session, referral.family_id)
    return AcceptedOut(
        id=referral.id,
        status=referral.status,
        family_id=referral.family_id,
        team_id=family_team,
        lead_worker_sub=lead,
    )


async def _team_and_lead(session: DbSession, family_id: uuid.UUID) -> tuple[uuid.UUID, str]:
    from services.formulation_api.families import repository

    family = await repository.get(session, family_id)
    assert family is not None
    return family.team_id, family.lead_worker_sub


@router.post("/{referral_id}/decline", response_model=ReferralOut, summary="Decline")
async def decline(user: Managers, referral_id: uuid.UUID, body: DeclineIn, session: DbSession) -> Referral:
    return await service.decline(session, user, referral_id, body)


@router.post("/{referral_id}/redirect", response_model=ReferralOut, summary="Redirect elsewhere")
async def redirect(user: Managers, referral_id: uuid.UUID, body: RedirectIn, session: DbSession) -> Referral:
    return await service.redirect(session, user, referral_id, body)
