"""Report queries: grouped counts only; no row-level personal data leaves this module."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.goals_api.goals.models import Action, Goal
from services.goals_api.measures.models import FeedbackSurvey, Score15Response
from services.goals_api.plans.models import Plan
from services.goals_api.progress import Progress
from services.goals_api.reports.aggregate import Feedback, Score15Sums

SelectT = TypeVar("SelectT", bound=Select)


@dataclass(frozen=True)
class Scope:
    """Filters of a report request, after role scoping (team_ids None = every team)."""

    cluster: str | None
    team_ids: list[uuid.UUID] | None
    date_from: date | None
    date_to: date | None


PROGRESS = case(
    (Goal.latest_score.is_(None), Progress.NO_SCORE.value),
    (Goal.latest_score > Goal.baseline, Progress.IMPROVED.value),
    (Goal.latest_score < Goal.baseline, Progress.DETERIORATED.value),
    else_=Progress.UNCHANGED.value,
)


def _scoped(stmt: SelectT, scope: Scope, day: Any) -> SelectT:
    if scope.cluster is not None:
        stmt = stmt.where(Plan.cluster_code == scope.cluster)
    if scope.team_ids is not None:
        stmt = stmt.where(Plan.team_id.in_(scope.team_ids))
    if scope.date_from is not None:
        stmt = stmt.where(day >= scope.date_from)
    if scope.date_to is not None:
        stmt = stmt.where(day <= scope.date_to)
    return stmt


async def goal_counts(session: AsyncSession, scope: Scope) -> list[tuple[str, Progress, int]]:
    """(category, progress, goals) for goals whose baseline falls in the period."""
    stmt = (
        select(Goal.category, PROGRESS, func.count())
        .join(Plan, Plan.id == Goal.plan_id)
        .group_by(Goal.category, PROGRESS)
    )
    rows = (await session.execute(_scoped(stmt, scope, Goal.baseline_on))).all()
    return [(c, Progress(p), n) for c, p, n in rows]


async def reliable_counts(session: AsyncSession, scope: Scope, points: int) -> tuple[int, int]:
    change = Goal.latest_score - Goal.baseline
    stmt = select(func.count().filter(change >= points), func.count().filter(change <= -points)).join(
        Plan, Plan.id == Goal.plan_id
    )
    up, down = (await session.execute(_scoped(stmt, scope, Goal.baseline_on))).one()
    return int(up), int(down)


def _goal_end(as_of: date) -> ColumnElement[Any]:
    """When work on a goal stopped: its status change, else its plan's closure, else as_of."""
    return case(
        (
            and_(Goal.status != "active", Goal.status_changed_on.is_not(None)),
            Goal.status_changed_on,
        ),
        (Plan.closed_on.is_not(None), Plan.closed_on),
        else_=as_of,
    )


async def goals_worked_on_over(session: AsyncSession, scope: Scope, months: int, as_of: date) -> int:
    limit = Goal.baseline_on.op("+")(func.make_interval(0, months))
    stmt = (
        select(func.count())
        .select_from(Goal)
        .join(Plan, Plan.id == Goal.plan_id)
        .where(_goal_end(as_of) > limit)
    )
    return int(await session.scalar(_scoped(stmt, scope, Goal.baseline_on)) or 0)


async def activity_counts(session: AsyncSession, scope: Scope) -> list[tuple[str, Progress, int]]:
    """(activity, progress of its goal, actions) for actions done in the period (Table 4)."""
    stmt = (
        select(Action.activity, PROGRESS, func.count())
        .join(Goal, Goal.id == Action.goal_id)
        .join(Plan, Plan.id == Goal.plan_id)
        .group_by(Action.activity, PROGRESS)
    )
    rows = (await session.execute(_scoped(stmt, scope, Action.done_on))).all()
    return [(a, Progress(p), n) for a, p, n in rows]


async def closure_counts(session: AsyncSession, scope: Scope) -> dict[str, int]:
    stmt = (
        select(Plan.closure_reason, func.count()).where(Plan.status == "closed").group_by(Plan.closure_reason)
    )
    rows = (await session.execute(_scoped(stmt, scope, Plan.closed_on))).all()
    return {str(r): int(n) for r, n in rows}


async def average_length_days(session: AsyncSession, scope: Scope) -> Decimal | None:
    stmt = select(func.avg(Plan.closed_on - Plan.opened_on)).where(Plan.status == "closed")
    value = await session.scalar(_scoped(stmt, scope, Plan.closed_on))
    return None if value is None else Decimal(value)


async def feedback_rows(session: AsyncSession, scope: Scope) -> list[Feedback]:
    stmt = select(
        FeedbackSurvey.treated_with_respect,
        FeedbackSurvey.would_recommend,
        FeedbackSurvey.service_rating,
        FeedbackSurvey.communication_rating,
        FeedbackSurvey.understanding_rating,
    ).join(Plan, Plan.id == FeedbackSurvey.plan_id)
    rows = (await session.execute(_scoped(stmt, scope, FeedbackSurvey.given_on))).all()
    return [Feedback(*r) for r in rows]


async def score15_sums(session: AsyncSession, scope: Scope) -> Score15Sums:
    """Members at T1 and at T2, their totals' sums, and T2 - T1 of each member (plan, member) with
    both, all in SQL: one row comes back however many responses there are (fetching a row per
    response and pairing them here took 1.8 s at 240k). The period applies to the member's T1 date
    (their T2 date when there is no T1)."""
    s = Score15Response
    t1 = Score15Response.__table__.alias("t1")
    is_t1, is_t2 = s.timepoint == "T1", s.timepoint == "T2"
    change = s.total - t1.c.total  # null unless a T2 with its member's T1 (at most one: unique)
    stmt = (
        select(
            func.count().filter(is_t1),
            func.sum(s.total).filter(is_t1),
            func.count().filter(is_t2),
            func.sum(s.total).filter(is_t2),
            func.count(change),
            func.sum(change),
            func.count().filter(change < 0),
            func.count().filter(change > 0),
        )
        .select_from(s)
        .join(Plan, Plan.id == s.plan_id)
        .outerjoin(
            t1,
            and_(
                is_t2,
                t1.c.plan_id == s.plan_id,
                t1.c.member_ref == s.member_ref,
                t1.c.timepoint == "T1",
            ),
        )
    )
    day = func.coalesce(t1.c.completed_on, s.completed_on)
    row = (await session.execute(_scoped(stmt, scope, day))).one()
    return Score15Sums(*row)
