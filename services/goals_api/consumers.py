"""Events the goals service consumes: its own read model of formulations, families and clusters.

Handlers are idempotent on their own too (upserts), on top of the framework's processed-events row.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, case, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.goals_api.db import Base
from services.goals_api.plans.models import Plan
from services.goals_api.plans.repository import bump_revision
from services.goals_api.plans.service import close_for_family
from services.goals_api.projections.models import KnownCluster, KnownFamily, KnownFormulation
from shared import audit
from shared.auth import Principal, Role
from shared.consumer import EventHandler
from shared.events import (
    ClusterUpserted,
    EventEnvelope,
    FamilyClosed,
    FamilyLeadWorkerChanged,
    FormulationCompleted,
    ReferralAccepted,
)
from shared.projections import upsert_if_newer

# The actors in the audit log when an event, not a person, hands a plan to another worker or team.
LEAD_CHANGED_ACTOR = Principal(sub="event:family.lead_worker_changed", role=Role.SCHEDULER)
ACCEPTED_ACTOR = Principal(sub="event:referral.accepted", role=Role.SCHEDULER)


async def _upsert(session: AsyncSession, model: type[Base], values: dict[str, Any], key: str = "id") -> None:
    """Insert the row, or overwrite every given column of the one already there."""
    stmt = insert(model).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[key], set_={k: stmt.excluded[k] for k in values if k != key}
        )
    )


async def on_formulation_completed(session: AsyncSession, event: EventEnvelope) -> None:
    p = FormulationCompleted.model_validate(event.payload)
    values = {
        "id": p.formulation_id,
        "family_id": p.family_id,
        "version": p.version,
        "previous_formulation_id": p.previous_formulation_id,
        "cluster_code": p.cluster_code,
        "team_id": p.team_id,
        "lead_worker_sub": p.lead_worker_sub,
        "factors": [f.model_dump(mode="json") for f in p.factors],
        "completed_on": p.completed_on,
    }
    # A completed version is immutable upstream; a replay just rewrites the same values.
    await _upsert(session, KnownFormulation, values)


async def _upsert_family(
    session: AsyncSession,
    event: EventEnvelope,
    values: dict[str, Any],
    guarded: dict[str, dict[str, Any]],
) -> Row[uuid.UUID | None, str | None, datetime | None]:
    """Upsert the family. ``guarded`` maps a time column (``lead_worker_since``, ``status_since``) to
    the columns it guards: those change only with an event at least as recent as the one that set
    them, so a late retry of an older event cannot undo a later change. Returns the family's team,
    lead worker and state time as they now stand."""
    inserted = {**values, **{since: event.occurred_at for since in guarded}}
    for columns in guarded.values():
        inserted.update(columns)
    stmt = insert(KnownFamily).values(**inserted)
    set_: dict[str, Any] = {k: stmt.excluded[k] for k in values if k != "id"}
    for since, columns in guarded.items():
        current = getattr(KnownFamily, since)
        newer = or_(current.is_(None), stmt.excluded[since] >= current)
        for column in columns:
            set_[column] = case((newer, stmt.excluded[column]), else_=getattr(KnownFamily, column))
        set_[since] = func.greatest(current, stmt.excluded[since])
    upsert = stmt.on_conflict_do_update(index_elements=[KnownFamily.id], set_=set_)
    returning = upsert.returning(KnownFamily.team_id, KnownFamily.lead_worker_sub, KnownFamily.status_since)
    return (await session.execute(returning)).one()


async def _plans_follow_family(
    session: AsyncSession,
    family_id: uuid.UUID,
    family: Row[uuid.UUID | None, str | None, datetime | None],
    actor: Principal,
    *,
    case_open: bool = False,
) -> None:
    """The family's open plan is worked by the family's team and lead worker as they now stand
    (one family, one lead worker, one plan): team scoping and overdue reviews follow the family.
    A replay, or an older event applied late, finds nothing to change. Closed plans stay with the
    team that worked them (its record and its report figures). ``case_open``: the family's case
    is open again, so a plan marked by an unknown-reason closure is no longer marked."""
    values: dict[str, Any] = {}
    if case_open:
        values["family_closed_on"] = None
    if family.team_id is not None:
        values["team_id"] = family.team_id
    if family.lead_worker_sub is not None:
        values["lead_worker_sub"] = family.lead_worker_sub
    if not values:
        return
    plans = await session.scalars(
        select(Plan)
        .where(
            Plan.family_id == family_id,
            Plan.status == "open",
            or_(*(getattr(Plan, k).is_distinct_from(v) for k, v in values.items())),
        )
        .with_for_update()
    )
    for plan in plans:
        for key, value in values.items():
            setattr(plan, key, value)
        await session.flush()
        await bump_revision(session, plan.id)
        await audit.record(session, actor, "update", "plan", plan.id)


async def on_referral_accepted(session: AsyncSession, event: EventEnvelope) -> None:
    """A re-referral can hand the family to another team (and lead worker): its open plan goes
    with it, as the formulation service hands over the family's formulations."""
    p = ReferralAccepted.model_validate(event.payload)
    family = await _upsert_family(
        session,
        event,
        {"id": p.family_id, "cluster_code": p.cluster_code},
        {
            "lead_worker_since": {"team_id": p.team_id, "lead_worker_sub": p.lead_worker_sub},
            "status_since": {"accepted_on": p.accepted_on, "closed_on": None},
        },
    )
    # Only an acceptance newer than the last closure reopens the case (status_since is the newest).
    case_open = family.status_since is None or family.status_since <= event.occurred_at
    await _plans_follow_family(session, p.family_id, family, ACCEPTED_ACTOR, case_open=case_open)


async def on_family_closed(session: AsyncSession, event: EventEnvelope) -> None:
    p = FamilyClosed.model_validate(event.payload)
    family = await _upsert_family(
        session,
        event,
        {"id": p.family_id, "cluster_code": p.cluster_code},
        {"status_since": {"closed_on": p.closed_on}},
    )
    if family.status_since is not None and family.status_since > event.occurred_at:
        return  # a later acceptance (a new case) was applied first: its plan is not this closure's
    # The plan must not stay open on a closed case (see plans.service.close_for_family).
    await close_for_family(session, p.family_id, p.reason_code, p.closed_on)


async def on_family_lead_worker_changed(session: AsyncSession, event: EventEnvelope) -> None:
    """The family's new lead worker leads its open plan too (one family, one lead worker, one
    plan), so overdue reviews are chased with the right worker."""
    p = FamilyLeadWorkerChanged.model_validate(event.payload)
    family = await _upsert_family(
        session,
        event,
        {"id": p.family_id, "cluster_code": p.cluster_code},
        {"lead_worker_since": {"team_id": p.team_id, "lead_worker_sub": p.lead_worker_sub}},
    )
    # The plan follows the family's lead worker as it now stands (this event's, unless a later
    # change was applied first).
    await _plans_follow_family(session, p.family_id, family, LEAD_CHANGED_ACTOR)


async def on_cluster_upserted(session: AsyncSession, event: EventEnvelope) -> None:
    """Only an event at least as recent as the one that set the row changes it: a late retry of an
    older upsert cannot put an old RES start back."""
    p = ClusterUpserted.model_validate(event.payload)
    values = {"code": p.cluster_code, "res_start": p.res_start, "co_located": p.co_located}
    await session.execute(upsert_if_newer(KnownCluster, "code", values, event.occurred_at))


HANDLERS: dict[str, EventHandler] = {
    "formulation.completed": on_formulation_completed,
    "referral.accepted": on_referral_accepted,
    "family.closed": on_family_closed,
    "family.lead_worker_changed": on_family_lead_worker_changed,
    "cluster.upserted": on_cluster_upserted,
}
