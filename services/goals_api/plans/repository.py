"""Plan writes shared by the plan, goal and event code paths."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.goals_api.plans.models import Plan


async def bump_revision(session: AsyncSession, plan_id: uuid.UUID) -> None:
    """A new ETag for the plan: every change to what GET /v1/plans/{id} returns (the plan, its
    goals, their scores and status) calls this, so a close with an older If-Match is a 412.

    One UPDATE ... SET revision = revision + 1: it takes the row lock and cannot lose a concurrent
    bump as a read-modify-write could. The ORM copy of the plan, if loaded, is synchronised."""
    await session.execute(
        update(Plan)
        .where(Plan.id == plan_id)
        .values(revision=Plan.revision + 1)
        .execution_options(synchronize_session="fetch")
    )
