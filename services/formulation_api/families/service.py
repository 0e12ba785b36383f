"""Families: reads (scoped, audited), structure, consent, closure and escalation."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.formulation_api.common import now
from services.formulation_api.families import repository
from services.formulation_api.families.access import ensure_can_see
from services.formulation_api.families.consent import ConsentScope, ConsentView, has_consent, same_consent
from services.formulation_api.families.models import (
    Consent,
    Family,
    FamilyMember,
    FamilyRelationship,
)
from services.formulation_api.families.schemas import (
    CloseFamily,
    ConsentIn,
    EscalateFamily,
    FamilyMemberIn,
    LeadWorkerIn,
    RelationshipIn,
)
from services.formulation_api.teams import service as team_service
from shared import audit
from shared.auth import Principal
from shared.clock import today
from shared.errors import Problem, conflict, not_found, unprocessable
from shared.http import check_if_match
from shared.outbox import emit


async def visible_family(
    session: AsyncSession, user: Principal, family_id: uuid.UUID, *, lock: bool = False
) -> Family:
    family = await repository.get(session, family_id, lock=lock)
    if family is None:
        raise not_found("family", family_id)
    await ensure_can_see(session, user, family)
    return family


def ensure_open(family: Family, *, field: str = "path.family_id") -> None:
    """`field` names the input that led to the family (a formulation's id, when the path names one)."""
    if family.status != "open":
        raise conflict("family_closed", "the family's case is closed", field=field)


async def add_member(
    session: AsyncSession, user: Principal, family_id: uuid.UUID, body: FamilyMemberIn
) -> FamilyMember:
    family = await visible_family(session, user, family_id)
    member = FamilyMember(family_id=family.id, **body.model_dump(mode="json"))
    session.add(member)
    await session.flush()
    await repository.bump_revision(session, family.id)  # the family's GET lists its members
    await audit.record(session, user, "create", "family_member", member.id)
    return member


async def add_relationship(
    session: AsyncSession, user: Principal, family_id: uuid.UUID, body: RelationshipIn
) -> FamilyRelationship:
    family = await visible_family(session, user, family_id)
    ids = {m.id for m in await repository.members(session, family.id)}
    for name in ("from_member_id", "to_member_id"):
        if getattr(body, name) not in ids:
            raise unprocessable(f"body.{name}", "not_a_family_member", "the member is not in this family")
    if body.from_member_id == body.to_member_id:
        raise unprocessable("body.to_member_id", "self_relationship", "a member cannot relate to itself")
    rel = FamilyRelationship(family_id=family.id, **body.model_dump(mode="json"))
    session.add(rel)
    await session.flush()
    await repository.bump_revision(session, family.id)  # and its relationships
    await audit.record(session, user, "create", "family_relationship", rel.id)
    return rel


async def record_consent(
    session: AsyncSession, user: Principal, family_id: uuid.UUID, body: ConsentIn
) -> Consent:
    # Locked: two records at once would both pass the one-active-record check below.
    family = await visible_family(session, user, family_id, lock=True)
    if body.scope is ConsentScope.SHARE_WITH_AGENCY and not body.agency:
        raise unprocessable("body.agency", "agency_required", "sharing consent names the agency")
    if body.scope is ConsentScope.GROUP_SUPERVISION and body.agency:
        raise unprocessable("body.agency", "agency_not_applicable", "group supervision names no agency")
    # One active record per scope (and agency): with two, withdrawing one would leave consent in
    # place. The family consents again after withdrawing.
    active = next(
        (
            c
            for c in await _active_consents(session, family.id)
            if same_consent(_view(c), body.scope, body.agency)
        ),
        None,
    )
    if active is not None:
        raise conflict(
            "consent_already_given",
            "the family's consent to this is already recorded; withdraw it first to record it anew",
            field="body.scope",
            consent_id=str(active.id),
        )
    consent = Consent(
        family_id=family.id,
        scope=body.scope.value,
        agency=body.agency,
        given_by=body.given_by,
        given_at=body.given_at or now(),
        recorded_by=user.sub,
    )
    session.add(consent)
    await session.flush()
    await audit.record(session, user, "create", "consent", consent.id)
    return consent


async def withdraw_consent(
    session: AsyncSession, user: Principal, family_id: uuid.UUID, consent_id: uuid.UUID
) -> Consent:
    family = await visible_family(session, user, family_id, lock=True)
    consent = next((c for c in await repository.consents(session, family.id) if c.id == consent_id), None)
    if consent is None:
        raise not_found("consent", consent_id)
    if consent.withdrawn_at is not None:
        raise conflict("consent_already_withdrawn", "this consent was already withdrawn")
    at = now()
    view = _view(consent)
    # Records made before one active record per scope was enforced may duplicate this one: the
    # family withdrew the consent, so they all end, and the gate closes.
    for c in await _active_consents(session, family.id):
        if c.id == consent.id or same_consent(_view(c), view.scope, view.agency):
            c.withdrawn_at = at
            c.withdrawn_recorded_by = user.sub
            await session.flush()
            await audit.record(session, user, "update", "consent", c.id)
    return consent


def _view(c: Consent) -> ConsentView:
    return ConsentView(ConsentScope(c.scope), c.agency, c.given_at, c.withdrawn_at)


async def _active_consents(session: AsyncSession, family_id: uuid.UUID) -> list[Consent]:
    return [c for c in await repository.consents(session, family_id) if c.withdrawn_at is None]


async def require_consent(
    session: AsyncSession,
    family_id: uuid.UUID,
    scope: ConsentScope,
    *,
    field: str,
    agency: str | None = None,
    at: datetime | None = None,
) -> None:
    """The consent gate: 403 naming the missing consent and `field`, the input that asked for it
    (e.g. "path.family_id", or "query.agency" on an export)."""
    views = [_view(c) for c in await repository.consents(session, family_id)]
    if not has_consent(views, scope, at or now(), agency):
        raise Problem(
            403,
            "Consent required",
            detail="the family has not consented to this (or has withdrawn consent)",
            rule="consent_required",
            field=field,
            consent_scope=scope.value,
        )


def _not_before_opening(family: Family, given: date | None, field: str) -> date:
    on = given or today()
    if on < family.opened_on:
        raise unprocessable(f"body.{field}", "before_opened", f"the case opened on {family.opened_on}")
    return on


async def _changed(
    session: AsyncSession, user: Principal, family: Family, event_type: str, **payload: object
) -> None:
    """A change to the family: new revision (ETag), audit row, and its event (ids and codes)."""
    family.revision += 1
    await session.flush()
    await audit.record(session, user, "update", "family", family.id)
    await emit(
        session,
        event_type,
        subject_id=family.id,
        payload={"family_id": family.id, "cluster_code": family.cluster_code, **payload},
    )


async def close(session: AsyncSession, user: Principal, family_id: uuid.UUID, body: CloseFamily) -> Family:
    family = await visible_family(session, user, family_id, lock=True)
    ensure_open(family)
    family.status = "closed"
    family.closed_on = _not_before_opening(family, body.closed_on, "closed_on")
    family.closure_reason = body.reason_code.value
    await _changed(
        session,
        user,
        family,
        "family.closed",
        reason_code=family.closure_reason,
        closed_on=family.closed_on,
    )
    return family


async def escalate(
    session: AsyncSession, user: Principal, family_id: uuid.UUID, body: EscalateFamily
) -> Family:
    family = await visible_family(session, user, family_id, lock=True)
    ensure_open(family)
    if family.escalated_on is not None:
        raise conflict("already_escalated", "the case was already escalated to area social work")
    family.escalated_on = _not_before_opening(family, body.escalated_on, "escalated_on")
    await _changed(session, user, family, "case.escalated", escalated_on=family.escalated_on)
    return family


async def change_lead_worker(
    session: AsyncSession, user: Principal, family_id: uuid.UUID, body: LeadWorkerIn, request: Request
) -> Family:
    """Hand an open family to another lead worker of its team, within the caseload limits.

    Team managers change their own teams' families, admins any. If-Match is optional (admins
    cannot read the family to get its ETag); a stale one is a 412. The same worker again is a no-op.
    """
    family = await repository.get(session, family_id)
    if family is None:
        raise not_found("family", family_id)
    team_service.ensure_manages(user, family.team_id)
    # Team row, the new worker's caseload, then the family, as an allocation does: checks
    # serialise per worker across teams, and the shared order cannot deadlock with a re-opening.
    team = await team_service.require_team(session, family.team_id, lock=True)
    await team_service.lock_caseload(session, body.lead_worker_sub)
    await session.refresh(family, with_for_update=True)
    if family.team_id != team.id:  # re-opened for another team in the meantime
        raise conflict("family_changed", "the family moved to another team; read it again")
    check_if_match(request, family.revision, required=False)
    ensure_open(family)
    if family.lead_worker_sub == body.lead_worker_sub:
        return family
    check = await team_service.check_capacity(session, team, body.lead_worker_sub)
    if not check.ok:
        raise team_service.capacity_problem(check)
    previous = family.lead_worker_sub
    family.lead_worker_sub = body.lead_worker_sub
    await _changed(
        session,
        user,
        family,
        "family.lead_worker_changed",
        team_id=family.team_id,
        lead_worker_sub=family.lead_worker_sub,
        previous_lead_worker_sub=previous,
        changed_on=today(),
    )
    return family
