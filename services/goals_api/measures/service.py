"""Recording the closure feedback survey and SCORE-15 answers."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.goals_api import score15
from services.goals_api.measures.models import FeedbackSurvey, Score15Response
from services.goals_api.measures.schemas import (
    FeedbackCreate,
    Score15Create,
    Score15Out,
    Score15Scores,
)
from services.goals_api.plans.models import Plan
from shared import audit
from shared.auth import Principal
from shared.clock import today
from shared.errors import Problem, conflict, unprocessable

_KEYS = (
    "total",
    "strengths_and_adaptability",
    "overwhelmed_by_difficulties",
    "disrupted_communication",
)


def _not_future(field: str, day: date) -> None:
    if day > today():
        raise unprocessable(field, "date_in_future", "the date cannot be in the future")


async def add_feedback(
    session: AsyncSession, user: Principal, plan: Plan, body: FeedbackCreate
) -> FeedbackSurvey:
    _not_future("body.given_on", body.given_on)
    if body.given_on < plan.opened_on:
        raise unprocessable("body.given_on", "before_plan_opened", "closure feedback cannot predate the plan")
    if await session.scalar(select(FeedbackSurvey.id).where(FeedbackSurvey.plan_id == plan.id)):
        raise conflict("feedback_exists", "the family's feedback for this plan is already recorded")
    row = FeedbackSurvey(id=uuid.uuid4(), plan_id=plan.id, recorded_by=user.sub, **body.model_dump())
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent request recorded it first
        raise conflict("feedback_exists", "the feedback for this plan is already recorded") from None
    await audit.record(session, user, "create", "feedback", row.id)
    return row


async def get_feedback(session: AsyncSession, plan: Plan) -> FeedbackSurvey:
    row = await session.scalar(select(FeedbackSurvey).where(FeedbackSurvey.plan_id == plan.id))
    if row is None:
        raise Problem(404, detail="no closure feedback is recorded for this plan", rule="not_found")
    return row


def _scores(row: Score15Response) -> Score15Scores:
    return Score15Scores(**{k: getattr(row, k) for k in _KEYS})


def score15_out(row: Score15Response, t1: Score15Response | None) -> Score15Out:
    change = None
    if row.timepoint == "T2" and t1 is not None:
        change = Score15Scores(**{k: Decimal(getattr(row, k)) - Decimal(getattr(t1, k)) for k in _KEYS})
    return Score15Out(
        id=row.id,
        plan_id=row.plan_id,
        member_ref=row.member_ref,
        timepoint=row.timepoint,
        completed_on=row.completed_on,
        scores=_scores(row),
        change_since_t1=change,
    )


async def add_score15(session: AsyncSession, user: Principal, plan: Plan, body: Score15Create) -> Score15Out:
    _not_future("body.completed_on", body.completed_on)
    if body.completed_on < plan.opened_on:
        raise unprocessable("body.completed_on", "before_plan_opened", "a SCORE-15 cannot predate the plan")
    existing = {
        r.timepoint: r
        for r in await session.scalars(
            select(Score15Response).where(
                Score15Response.plan_id == plan.id, Score15Response.member_ref == body.member_ref
            )
        )
    }
    if body.timepoint in existing:
        raise conflict("score15_exists", f"{body.member_ref} already has a {body.timepoint} SCORE-15 here")
    t1 = existing.get("T1")
    if body.timepoint == "T2" and t1 is not None and body.completed_on < t1.completed_on:
        raise unprocessable("body.completed_on", "before_t1", "T2 cannot be before T1")
    t2 = existing.get("T2")
    if body.timepoint == "T1" and t2 is not None and body.completed_on > t2.completed_on:
        raise unprocessable("body.completed_on", "after_t2", "T1 cannot be after T2")
    result = score15.score(body.items)
    row = Score15Response(
        id=uuid.uuid4(),
        plan_id=plan.id,
        member_ref=body.member_ref,
        timepoint=body.timepoint,
        completed_on=body.completed_on,
        items=list(body.items),
        recorded_by=user.sub,
        **result.as_dict(),
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent request recorded it first
        raise conflict("score15_exists", "this SCORE-15 is already recorded") from None
    await audit.record(session, user, "create", "score15", row.id)
    return score15_out(row, t1)


async def list_score15(session: AsyncSession, plan: Plan) -> list[Score15Out]:
    rows = list(
        await session.scalars(
            select(Score15Response)
            .where(Score15Response.plan_id == plan.id)
            .order_by(Score15Response.member_ref, Score15Response.timepoint)
        )
    )
    t1s = {r.member_ref: r for r in rows if r.timepoint == "T1"}
    return [score15_out(r, t1s.get(r.member_ref)) for r in rows]
