"""Events the formulation service consumes from the goals service.

`plan.reformulation_needed`: the overall goal is not progressing, so "formulate again rather than
carrying on" (Appendix 5): record a request that the next completed formulation resolves.
`plan.closed`: remember the plan's closure; closing for a new formulation is also a request.

An event can arrive late (retried, or parked and replayed): a request that a formulation completed
since has already answered is stored as resolved by it, not shown as open.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.formulation_api.families.models import Family, FamilyPlan
from services.formulation_api.formulations.models import Formulation, ReformulationRequest
from shared import audit
from shared.auth import Principal, Role
from shared.consumer import EventHandler
from shared.events import EventEnvelope, PlanClosed, PlanReformulationNeeded

REFORMULATE_ON_CLOSE = "continued_intervention_new_formulation"


def _actor(event: EventEnvelope) -> Principal:
    """The actor in the audit log when an event, not a person, writes (as in the goals service)."""
    return Principal(sub=f"event:{event.type}", role=Role.SCHEDULER)


async def _known_family(session: AsyncSession, family_id: object) -> bool:
    return (await session.scalar(select(Family.id).where(Family.id == family_id))) is not None


async def _answered_by(
    session: AsyncSession, family_id: uuid.UUID, flagged_on: date, flagged: Formulation | None
) -> uuid.UUID | None:
    """The first formulation completed after the request was flagged: a newer version than the one
    flagged, or (no version to go by) one completed on a later day. A same-day completion may be the
    one the plan was on, so it leaves the request open (a worker can still formulate again)."""
    newer = (
        Formulation.version > flagged.version
        if flagged is not None
        else Formulation.completed_on > flagged_on
    )
    stmt = (
        select(Formulation.id)
        .where(Formulation.family_id == family_id, Formulation.completed_on.is_not(None), newer)
        .order_by(Formulation.version)
        .limit(1)
    )
    return (await session.scalars(stmt)).first()


async def _request(
    session: AsyncSession,
    event: EventEnvelope,
    values: dict[str, Any],
    flagged: Formulation | None = None,
) -> None:
    values["resolved_by_formulation_id"] = await _answered_by(
        session, values["family_id"], values["flagged_on"], flagged
    )
    # Unique on event_id: a replay is a no-op even without the processed-events row.
    stmt = (
        insert(ReformulationRequest)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[ReformulationRequest.event_id])
        .returning(ReformulationRequest.id)
    )
    created = (await session.execute(stmt)).scalar_one_or_none()
    if created is not None:
        await audit.record(session, _actor(event), "create", "reformulation_request", created)


async def on_reformulation_needed(session: AsyncSession, event: EventEnvelope) -> None:
    p = PlanReformulationNeeded.model_validate(event.payload)
    if not await _known_family(session, p.family_id):
        return
    known = await session.scalar(
        select(Formulation).where(Formulation.id == p.formulation_id, Formulation.family_id == p.family_id)
    )
    await _request(
        session,
        event,
        {
            "event_id": event.event_id,
            "family_id": p.family_id,
            "formulation_id": known.id if known is not None else None,
            "plan_id": p.plan_id,
            "reason": "no_progress",
            "flagged_on": p.flagged_on,
            "reviews_without_progress": p.reviews_without_progress,
        },
        flagged=known,
    )


async def on_plan_closed(session: AsyncSession, event: EventEnvelope) -> None:
    p = PlanClosed.model_validate(event.payload)
    if not await _known_family(session, p.family_id):
        return
    stmt = insert(FamilyPlan).values(
        plan_id=p.plan_id, family_id=p.family_id, closed_on=p.closed_on, reason_code=p.reason_code
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=[FamilyPlan.plan_id],
        set_={"closed_on": stmt.excluded.closed_on, "reason_code": stmt.excluded.reason_code},
    )
    # xmax is 0 on a freshly inserted row version: a new plan is a create, a known one an update.
    created = bool((await session.execute(upsert.returning(literal_column("xmax = 0")))).scalar_one())
    await audit.record(session, _actor(event), "create" if created else "update", "family_plan", p.plan_id)
    if p.reason_code == REFORMULATE_ON_CLOSE:
        await _request(
            session,
            event,
            {
                "event_id": event.event_id,
                "family_id": p.family_id,
                "formulation_id": None,
                "plan_id": p.plan_id,
                "reason": "plan_closed_for_new_formulation",
                "flagged_on": p.closed_on,
                "reviews_without_progress": None,
            },
        )


HANDLERS: dict[str, EventHandler] = {
    "plan.reformulation_needed": on_reformulation_needed,
    "plan.closed": on_plan_closed,
}
