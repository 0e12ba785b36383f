"""A sub-goal's status: every change is audited and announced with `goal.status_changed`.

Shared by the goal routes (a worker marks a goal achieved, replaced or discontinued; an
evaluation decides it) and by plan closure (no goal stays active on a closed plan).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.goals_api.goals.models import Goal
from services.goals_api.plans.repository import bump_revision
from services.goals_api.vocab import GoalStatus
from shared import audit, outbox
from shared.auth import Principal


async def emit_status(session: AsyncSession, goal: Goal, on: date) -> None:
    await outbox.emit(
        session,
        "goal.status_changed",
        subject_id=goal.id,
        payload={
            "goal_id": goal.id,
            "plan_id": goal.plan_id,
            "status": goal.status,
            "changed_on": on,
        },
    )


async def set_status(
    session: AsyncSession, actor: Principal, goal: Goal, status: GoalStatus, on: date
) -> None:
    goal.status, goal.status_changed_on = status.value, on
    await session.flush()
    await bump_revision(session, goal.plan_id)  # the plan's body shows each goal's status
    await audit.record(session, actor, "update", "goal", goal.id)
    await emit_status(session, goal, on)
