"""Referral lifecycle: received → conversation recorded → accepted | declined | redirected."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.formulation_api.clusters import repository as clusters
from services.formulation_api.families import repository as families
from services.formulation_api.families.access import can_see
from services.formulation_api.families.models import Family, FamilyMember
from services.formulation_api.referrals.access import ensure_can_read, in_cluster_triage
from services.formulation_api.referrals.models import Referral
from services.formulation_api.referrals.rules import (
    ACADEMY_RULE,
    ReferralStatus,
    academy_rule,
    reopen_rule,
    resolve_source,
    transition_rule,
)
from services.formulation_api.referrals.schemas import (
    AcceptIn,
    ConversationIn,
    DeclineIn,
    RedirectIn,
    ReferralCreate,
)
from services.formulation_api.teams import repository as teams
from services.formulation_api.teams import service as team_service
from shared import audit
from shared.auth import Principal, Role
from shared.clock import today
from shared.errors import Problem, conflict, forbidden, not_found, unprocessable
from shared.outbox import emit


async def receive(session: AsyncSession, user: Principal, body: ReferralCreate) -> Referral:
    if body.source_code is None and body.route is None:
        raise unprocessable("body.source_code", "source_required", "give a source_code or a route")
    if (body.family is None) == (body.existing_family_id is None):
        raise unprocessable(
            "body.family", "family_required", "give either family details or existing_family_id"
        )
    if await clusters.get(session, body.cluster_code) is None:
        raise unprocessable("body.cluster_code", "unknown_cluster", f"no cluster {body.cluster_code}")
    if body.existing_family_id is not None:
        await _ensure_linkable(session, user, body.existing_family_id)
    referral = Referral(
        created_by=user.sub,
        cluster_code=body.cluster_code,
        source_code=resolve_source(body.source_code, body.route),
        route=body.route.value if body.route else None,
        referring_organisation=body.referring_organisation,
        support_type=body.support_type.value,
        reason=body.reason,
        academy_outside_cluster=body.academy_outside_cluster,
        early_help_offer_in_place=body.early_help_offer_in_place,
        family_details=body.family.model_dump(mode="json") if body.family else None,
        existing_family_id=body.existing_family_id,
        status=ReferralStatus.RECEIVED.value,
        received_on=body.received_on or today(),
        revision=1,
    )
    session.add(referral)
    await session.flush()
    await audit.record(session, user, "create", "referral", referral.id)
    await emit(
        session,
        "referral.received",
        subject_id=referral.id,
        payload={
            "referral_id": referral.id,
            "family_id": referral.existing_family_id,
            "cluster_code": referral.cluster_code,
            "source_code": referral.source_code,
            "support_type": referral.support_type,
            "received_on": referral.received_on,
        },
    )
    # Academies outside the cluster are served only with an early help offer already in place.
    if academy_rule(body.academy_outside_cluster, body.early_help_offer_in_place):
        await _decline(session, referral, ACADEMY_RULE, "system:academy_rule", referral.received_on)
    return referral


async def _ensure_linkable(session: AsyncSession, user: Principal, family_id: uuid.UUID) -> None:
    """A re-referral names a known family only when the caller may see it. Partner systems see no
    families, so they send the family's details and never an id; staff of the family's team link
    a re-referral to it. A family that does not exist and one the caller may not see get the same
    answer, so the id is no way to learn which families exist."""
    if user.role is Role.PARTNER_SYSTEM:
        raise unprocessable(
            "body.existing_family_id",
            "existing_family_staff_only",
            "partner systems send the family's details; the family's team links a re-referral",
        )
    family = await families.get(session, family_id)
    if family is None or not await can_see(session, user, family):
        raise unprocessable(
            "body.existing_family_id", "unknown_family", "no such family among those you may see"
        )


async def get_for(session: AsyncSession, user: Principal, referral_id: uuid.UUID) -> Referral:
    referral = (await session.scalars(select(Referral).where(Referral.id == referral_id))).one_or_none()
    if referral is None:
        raise not_found("referral", referral_id)
    if user.role is Role.PARTNER_SYSTEM:
        if referral.created_by != user.sub:
            # A partner learns nothing about referrals it did not make, not even that they exist.
            raise not_found("referral", referral_id)
        return referral
    await ensure_can_read(session, user, referral)
    return referral


async def _for_decision(
    session: AsyncSession, user: Principal, referral_id: uuid.UUID, target: ReferralStatus
) -> Referral:
    referral = (
        await session.scalars(select(Referral).where(Referral.id == referral_id).with_for_update())
    ).one_or_none()
    if referral is None:
        raise not_found("referral", referral_id)
    # Decided by the cluster's team managers; one that names a family, only by those who see it.
    if not await in_cluster_triage(session, user, referral.cluster_code):
        raise forbidden("this referral is for another cluster's team", rule="cluster_scope")
    await ensure_can_read(session, user, referral)
    rule = transition_rule(ReferralStatus(referral.status), target)
    if rule:
        raise conflict(
            rule,
            f"a {referral.status} referral cannot become {target.value}",
            field="path.referral_id",  # the referral's status, not an input, stands in the way
            status_now=referral.status,
        )
    return referral


def _not_before(on: date, earlier: date | None, field: str, what: str) -> date:
    """A step of the lifecycle cannot be dated before the step it follows."""
    if earlier is not None and on < earlier:
        raise unprocessable(
            f"body.{field}", f"before_{what}", f"{field} {on} is before the referral was {what} ({earlier})"
        )
    return on


def _decision_date(referral: Referral, given: date | None, field: str) -> date:
    return _not_before(given or today(), referral.conversation_on, field, "discussed")


async def record_conversation(
    session: AsyncSession, user: Principal, referral_id: uuid.UUID, body: ConversationIn
) -> Referral:
    referral = await _for_decision(session, user, referral_id, ReferralStatus.CONVERSATION_RECORDED)
    held_on = _not_before(body.held_on or today(), referral.received_on, "held_on", "received")
    referral.status = ReferralStatus.CONVERSATION_RECORDED.value
    referral.conversation_on = held_on
    referral.conversation_manager_sub = body.manager_sub or user.sub
    referral.conversation_notes = body.notes
    referral.revision += 1
    await session.flush()
    await audit.record(session, user, "update", "referral", referral.id)
    return referral


async def accept(session: AsyncSession, user: Principal, referral_id: uuid.UUID, body: AcceptIn) -> Referral:
    referral = await _for_decision(session, user, referral_id, ReferralStatus.ACCEPTED)
    if academy_rule(referral.academy_outside_cluster, referral.early_help_offer_in_place):
        raise conflict(ACADEMY_RULE, "an academy outside the cluster needs an early help offer")
    memberships = await teams.memberships_in_cluster(session, referral.cluster_code, body.lead_worker_sub)
    if not memberships:
        raise unprocessable(
            "body.lead_worker_sub",
            "not_a_lead_worker_in_team",
            "the lead worker must be a member of a RES team in the referral's cluster",
        )
    # The allocating manager's own team: a worker may belong to more than one team.
    membership = next((m for m in memberships if user.in_team(m.team_id)), None)
    if membership is None:
        raise forbidden("you do not manage the lead worker's team", rule="team_scope")
    # Lock the team (limits, members); check_capacity then locks the worker's caseload, so two
    # allocations, from this team or another, cannot both take a worker's last place.
    team = await team_service.require_team(session, membership.team_id, lock=True)
    check = await team_service.check_capacity(session, team, body.lead_worker_sub)
    if not check.ok:
        raise team_service.capacity_problem(check)
    accepted_on = _decision_date(referral, body.accepted_on, "accepted_on")
    reopened = referral.existing_family_id is not None
    family = await _family_for(session, user, referral, team.id, body.lead_worker_sub, accepted_on)
    await audit.record(session, user, "update" if reopened else "create", "family", family.id)
    referral.status = ReferralStatus.ACCEPTED.value
    referral.decided_on = accepted_on
    referral.decided_by = user.sub
    referral.family_id = family.id
    referral.revision += 1
    await session.flush()
    await audit.record(session, user, "update", "referral", referral.id)
    await emit(
        session,
        "referral.accepted",
        subject_id=referral.id,
        payload={
            "referral_id": referral.id,
            "family_id": family.id,
            "cluster_code": referral.cluster_code,
            "team_id": team.id,
            "lead_worker_sub": body.lead_worker_sub,
            "support_type": referral.support_type,
            "accepted_on": accepted_on,
        },
    )
    return referral


async def _family_for(
    session: AsyncSession, user: Principal, referral: Referral, team_id: uuid.UUID, lead: str, on: object
) -> Family:
    """Open the referred family: a new one from the details, or re-open a closed one."""
    if referral.existing_family_id is not None:
        family = await families.get(session, referral.existing_family_id, lock=True)
        if family is None:
            raise not_found("family", referral.existing_family_id)
        if family.status == "open":
            raise conflict("family_already_open", "the family already has an open case")
        # Re-opening hands the family (members, formulations) to the accepting team.
        rule = reopen_rule(family.team_id, user.teams, user.role is Role.ADMIN)
        if rule:
            raise conflict(
                rule,
                "the family was last held by another team; a manager of that team re-opens it",
                field="path.referral_id",  # the family the referral names
            )
        family.status = "open"
        family.closed_on = None
        family.closure_reason = None
        family.escalated_on = None
        family.revision += 1
    else:
        details = referral.family_details or {}
        family = Family(
            reference_name=str(details.get("reference_name", "")),
            revision=1,
        )
        session.add(family)
    family.cluster_code = referral.cluster_code
    family.team_id = team_id
    family.lead_worker_sub = lead
    family.support_type = referral.support_type
    family.opened_on = on  # type: ignore[assignment]
    await session.flush()
    if referral.existing_family_id is None:
        for m in (referral.family_details or {}).get("members", []):
            session.add(FamilyMember(family_id=family.id, **m))
        await session.flush()
    return family


async def decline(
    session: AsyncSession, user: Principal, referral_id: uuid.UUID, body: DeclineIn
) -> Referral:
    referral = await _for_decision(session, user, referral_id, ReferralStatus.DECLINED)
    referral.decline_note = body.note
    on = _decision_date(referral, body.declined_on, "declined_on")
    await _decline(session, referral, body.reason_code.value, user.sub, on)
    await audit.record(session, user, "update", "referral", referral.id)
    return referral


async def _decline(session: AsyncSession, referral: Referral, reason: str, by: str, on: object) -> None:
    referral.status = ReferralStatus.DECLINED.value
    referral.decline_reason = reason
    referral.decided_on = on  # type: ignore[assignment]
    referral.decided_by = by
    referral.revision += 1
    await session.flush()
    await emit(
        session,
        "referral.declined",
        subject_id=referral.id,
        payload={
            "referral_id": referral.id,
            "cluster_code": referral.cluster_code,
            "reason_code": reason,
            "declined_on": on,
        },
    )


async def redirect(
    session: AsyncSession, user: Principal, referral_id: uuid.UUID, body: RedirectIn
) -> Referral:
    referral = await _for_decision(session, user, referral_id, ReferralStatus.REDIRECTED)
    on = _decision_date(referral, body.redirected_on, "redirected_on")
    referral.status = ReferralStatus.REDIRECTED.value
    referral.redirected_to = body.to.value
    referral.decline_note = body.note
    referral.decided_on = on
    referral.decided_by = user.sub
    referral.revision += 1
    await session.flush()
    await audit.record(session, user, "update", "referral", referral.id)
    await emit(
        session,
        "referral.redirected",
        subject_id=referral.id,
        payload={
            "referral_id": referral.id,
            "cluster_code": referral.cluster_code,
            "destination_code": referral.redirected_to,
            "redirected_on": on,
        },
    )
    return referral


__all__ = ["Problem", "accept", "decline", "get_for", "receive", "record_conversation", "redirect"]
