"""Family measures on a plan: closure feedback survey and SCORE-15 at T1 and T2."""

from __future__ import annotations

import uuid

from services.goals_api.access import Workers
from services.goals_api.measures import service
from services.goals_api.measures.schemas import (
    FeedbackCreate,
    FeedbackOut,
    Score15Create,
    Score15Out,
)
from services.goals_api.plans.service import load_plan
from shared import audit
from shared.deps import DbSession
from shared.http import APIRouter

router = APIRouter(prefix="/v1/plans", tags=["family measures"])


@router.post(
    "/{plan_id}/feedback",
    status_code=201,
    response_model=FeedbackOut,
    summary="Record the family's closure feedback survey",
)
async def add_feedback(
    user: Workers, plan_id: uuid.UUID, body: FeedbackCreate, session: DbSession
) -> FeedbackOut:
    plan = await load_plan(session, user, plan_id)
    return FeedbackOut.model_validate(await service.add_feedback(session, user, plan, body))


@router.get("/{plan_id}/feedback", response_model=FeedbackOut, summary="The family's closure feedback")
async def get_feedback(user: Workers, plan_id: uuid.UUID, session: DbSession) -> FeedbackOut:
    plan = await load_plan(session, user, plan_id)
    row = await service.get_feedback(session, plan)
    await audit.record(session, user, "read", "feedback", row.id)
    return FeedbackOut.model_validate(row)


@router.post(
    "/{plan_id}/score15",
    status_code=201,
    response_model=Score15Out,
    summary="Record one family member's SCORE-15 at T1 or T2",
)
async def add_score15(
    user: Workers, plan_id: uuid.UUID, body: Score15Create, session: DbSession
) -> Score15Out:
    plan = await load_plan(session, user, plan_id)
    return await service.add_score15(session, user, plan, body)


@router.get("/{plan_id}/score15", response_model=list[Score15Out], summary="SCORE-15 results")
async def list_score15(user: Workers, plan_id: uuid.UUID, session: DbSession) -> list[Score15Out]:
    plan = await load_plan(session, user, plan_id)
    await audit.record(session, user, "read", "plan", plan.id)
    return await service.list_score15(session, plan)
