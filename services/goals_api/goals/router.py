"""Sub-goal routes: scores, actions, evaluations, status, and overdue reviews."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy import select

from services.goals_api.access import GoalsSettings, Workers
from services.goals_api.goals import service
from services.goals_api.goals.models import Action, Evaluation, Score
from services.goals_api.goals.schemas import (
    ActionBatch,
    ActionBatchOut,
    ActionCreate,
    ActionOut,
    EvaluationCreate,
    EvaluationOut,
    EvaluationRecord,
    GoalOut,
    OverdueByWorker,
    OverdueReview,
    ScoreCreate,
    ScoreOut,
    StatusChange,
)
from services.goals_api.shaping import score_out
from shared import audit
from shared.clock import today
from shared.deps import DbSession
from shared.http import APIRouter
from shared.pagination import CursorParams, Page, paginate

router = APIRouter(prefix="/v1/goals", tags=["goals"])
reviews = APIRouter(prefix="/v1/reviews", tags=["goals"])


@router.get("/{goal_id}", response_model=GoalOut, summary="A sub-goal with its progress")
async def get_goal(user: Workers, goal_id: uuid.UUID, session: DbSession, settings: GoalsSettings) -> GoalOut:
    goal, _ = await service.load_goal(session, user, goal_id)
    await audit.record(session, user, "read", "goal", goal.id)
    return service.goal_out(goal, settings)


@router.post("/{goal_id}/scores", status_code=201, response_model=ScoreOut, summary="Track a score")
async def add_score(
    user: Workers,
    goal_id: uuid.UUID,
    body: ScoreCreate,
    session: DbSession,
    settings: GoalsSettings,
) -> ScoreOut:
    goal, row = await service.add_score(session, user, goal_id, body.score, body.recorded_on, body.given_by)
    return score_out(goal, row, settings)


@router.get("/{goal_id}/scores", response_model=list[ScoreOut], summary="Tracking scores")
async def list_scores(
    user: Workers, goal_id: uuid.UUID, session: DbSession, settings: GoalsSettings
) -> list[ScoreOut]:
    goal, _ = await service.load_goal(session, user, goal_id)
    rows = await session.scalars(
        select(Score).where(Score.goal_id == goal.id).order_by(Score.recorded_on, Score.created_at)
    )
    await audit.record(session, user, "read", "goal", goal.id)
    return [score_out(goal, r, settings) for r in rows]


@router.post("/{goal_id}/actions", status_code=201, response_model=ActionOut, summary="Record an action")
async def add_action(user: Workers, goal_id: uuid.UUID, body: ActionCreate, session: DbSession) -> ActionOut:
    (row,) = await service.add_actions(session, user, goal_id, [body])
    return ActionOut.model_validate(row)


@router.post(
    "/{goal_id}/actions/batch",
    status_code=201,
    response_model=ActionBatchOut,
    summary="Record up to 500 actions at once (e.g. from a paper log)",
)
async def add_actions(
    user: Workers, goal_id: uuid.UUID, body: ActionBatch, session: DbSession
) -> ActionBatchOut:
    rows = await service.add_actions(session, user, goal_id, body.actions)
    return ActionBatchOut(created=len(rows), ids=[r.id for r in rows])


@router.get("/{goal_id}/actions", response_model=Page[ActionOut], summary="Actions on a sub-goal")
async def list_actions(
    user: Workers,
    goal_id: uuid.UUID,
    session: DbSession,
    params: Annotated[CursorParams, Depends()],
) -> Page[ActionOut]:
    goal, _ = await service.load_goal(session, user, goal_id)
    await audit.record(session, user, "read", "goal", goal.id)
    return await paginate(
        session,
        select(Action).where(Action.goal_id == goal.id),
        params,
        key=Action.created_at,
        id_col=Action.id,
        to_item=ActionOut.model_validate,
    )


@router.post(
    "/{goal_id}/evaluations",
    status_code=201,
    response_model=EvaluationOut,
    summary="Evaluate progress at a review (date, score, rationale, decision)",
)
async def evaluate(
    user: Workers,
    goal_id: uuid.UUID,
    body: EvaluationCreate,
    session: DbSession,
    settings: GoalsSettings,
) -> EvaluationOut:
    goal, plan, evaluation = await service.evaluate(session, user, goal_id, body, settings)
    return EvaluationOut(
        id=evaluation.id,
        goal_id=goal.id,
        reviewed_on=evaluation.reviewed_on,
        score=evaluation.score,
        rationale=evaluation.rationale,
        decision=evaluation.decision,
        goal_status=goal.status,
        progress=service.progress_out(goal, settings),
        reviews_without_progress=plan.reviews_without_progress,
        reformulation_flagged=plan.reformulation_flagged_on is not None,
    )


@router.get("/{goal_id}/evaluations", response_model=list[EvaluationRecord], summary="Evaluation records")
async def list_evaluations(user: Workers, goal_id: uuid.UUID, session: DbSession) -> list[EvaluationRecord]:
    goal, _ = await service.load_goal(session, user, goal_id)
    rows = await session.scalars(
        select(Evaluation)
        .where(Evaluation.goal_id == goal.id)
        .order_by(Evaluation.reviewed_on, Evaluation.created_at)
    )
    await audit.record(session, user, "read", "goal", goal.id)
    return [EvaluationRecord.model_validate(r) for r in rows]


@router.post("/{goal_id}/status", response_model=GoalOut, summary="Mark achieved/replaced/discontinued")
async def change_status(
    user: Workers,
    goal_id: uuid.UUID,
    body: StatusChange,
    session: DbSession,
    settings: GoalsSettings,
) -> GoalOut:
    goal = await service.change_status(session, user, goal_id, body)
    return service.goal_out(goal, settings)


@reviews.get(
    "/overdue",
    response_model=Page[OverdueReview],
    summary="Active sub-goals with no score within the plan's review frequency",
    description="Longest overdue first (by due date, then goal id), one page at a time: follow "
    "`next_cursor` until it is null. Each listed plan is audited as read.",
)
async def overdue(
    user: Workers,
    session: DbSession,
    params: Annotated[CursorParams, Depends()],
    worker_sub: str | None = Query(
        None, max_length=64, pattern=r"^[^\x00-\x1f]+$", description="Only this lead worker's plans"
    ),
    as_of: date | None = Query(None, description="Look ahead or back (default today)"),
) -> Page[OverdueReview]:
    return await service.overdue_reviews(session, user, worker_sub, as_of or today(), params)


@reviews.get(
    "/overdue/by-worker",
    response_model=list[OverdueByWorker],
    summary="Overdue reviews counted per lead worker (team managers: their teams)",
)
async def overdue_by_worker(
    user: Workers,
    session: DbSession,
    as_of: date | None = None,
) -> list[OverdueByWorker]:
    return await service.overdue_by_worker(session, user, as_of or today())
