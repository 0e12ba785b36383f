"""Sub-goal rules (Appendix 5): at most three active, coded, tied to the formulation's factors;
tracking scores against the baseline; evaluations that can flag the plan for re-formulation."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager
from sqlalchemy.sql.elements import ColumnElement

from services.goals_api.access import plans_in_scope
from services.goals_api.codes.table import is_valid_code
from services.goals_api.goals.models import Action, Evaluation, Goal, Score
from services.goals_api.goals.schemas import (
    ActionCreate,
    EvaluationCreate,
    GivenBy,
    GoalCreate,
    GoalOut,
    OverdueByWorker,
    OverdueReview,
    ProgressOut,
    SmartOut,
    StatusChange,
)
from services.goals_api.goals.status import emit_status, set_status
from services.goals_api.plans.models import Plan
from services.goals_api.plans.repository import bump_revision
from services.goals_api.plans.service import load_plan, require_open
from services.goals_api.progress import Review, classify, review_due_on, reviews_without_progress
from services.goals_api.projections.models import KnownFormulation
from services.goals_api.settings import Settings
from services.goals_api.vocab import MAX_ACTIVE_GOALS, EvaluationDecision, GoalStatus
from shared import audit, outbox
from shared.auth import Principal, Role
from shared.clock import today
from shared.errors import conflict, not_found, unprocessable
from shared.pagination import CursorParams, Page, paginate


def progress_out(goal: Goal, settings: Settings, latest: int | None = None) -> ProgressOut:
    result = classify(
        goal.baseline,
        goal.latest_score if latest is None else latest,
        reliable_change_points=settings.reliable_change_points,
    )
    return ProgressOut(progress=result.progress, change=result.change, reliable=result.reliable)


def goal_out(goal: Goal, settings: Settings) -> GoalOut:
    return GoalOut(
        id=goal.id,
        plan_id=goal.plan_id,
        text=goal.text,
        smart=SmartOut(
            specific=goal.specific,
            measurable=goal.measurable,
            achievable=goal.achievable,
            realistic=goal.realistic,
            target_date=goal.target_date,
        ),
        code=goal.code,
        category=goal.category,
        addresses_factor_ids=list(goal.addresses_factor_ids),
        builds_on_factor_ids=list(goal.builds_on_factor_ids),
        baseline=goal.baseline,
        baseline_on=goal.baseline_on,
        status=goal.status,
        status_changed_on=goal.status_changed_on,
        latest_score=goal.latest_score,
        latest_scored_on=goal.latest_scored_on,
        progress=progress_out(goal, settings),
    )


def _check_factors(formulation: KnownFormulation, body: GoalCreate) -> None:
    for i, factor_id in enumerate(body.addresses_factor_ids):
        factor = formulation.factor(factor_id)
        field = f"body.addresses_factor_ids[{i}]"
        if factor is None:
            raise unprocessable(field, "factor_not_in_formulation", "no such factor in the formulation")
        if factor["kind"] != "perpetuating" or not factor["priority"]:
            raise unprocessable(
                field,
                "not_priority_perpetuating_factor",
                "a sub-goal must address a priority perpetuating factor of the formulation "
                "(prerequisite, powerful, proximal and the participants' goal)",
            )
    for i, factor_id in enumerate(body.builds_on_factor_ids):
        factor = formulation.factor(factor_id)
        field = f"body.builds_on_factor_ids[{i}]"
        if factor is None:
            raise unprocessable(field, "factor_not_in_formulation", "no such factor in the formulation")
        if factor["kind"] != "protective":
            raise unprocessable(
                field, "not_protective_factor", "a sub-goal builds on protective factors only"
            )


def _check_day(field: str, day: date, not_before: date, before_rule: str, what: str) -> None:
    if day > today():
        raise unprocessable(field, "date_in_future", f"{what} cannot be in the future")
    if day < not_before:
        raise unprocessable(field, before_rule, f"{what} cannot be before {not_before.isoformat()}")


async def add_goal(session: AsyncSession, user: Principal, plan_id: uuid.UUID, body: GoalCreate) -> Goal:
    plan = await load_plan(session, user, plan_id, lock=True)  # serialises the three-goal rule
    require_open(plan)
    if not is_valid_code(body.code):
        raise unprocessable(
            "body.code", "unknown_code", "not a Children and Families Code (see GET /v1/codes)"
        )
    formulation = await session.get(KnownFormulation, plan.formulation_id)
    assert formulation is not None  # the plan was opened on it
    _check_factors(formulation, body)
    baseline_on = body.baseline_on or today()
    _check_day("body.baseline_on", baseline_on, plan.opened_on, "before_plan_opened", "a baseline")
    if body.smart.target_date < baseline_on:
        raise unprocessable(
            "body.smart.target_date",
            "target_before_baseline",
            "the target date is before the baseline",
        )
    busiest, active = await _most_active_since(session, plan.id, baseline_on)
    if len(active) >= MAX_ACTIVE_GOALS:
        raise conflict(
            "max_active_goals",
            f"a plan works on at most {MAX_ACTIVE_GOALS} sub-goals at a time: mark one achieved, "
            "replaced or discontinued first (a back-dated baseline counts the goals active then)",
            max_active_goals=MAX_ACTIVE_GOALS,
            active_goal_ids=[str(g) for g in active],
            active_on=busiest.isoformat(),
        )
    goal = Goal(
        id=uuid.uuid4(),
        plan_id=plan.id,
        text=body.text,
        specific=body.smart.specific,
        measurable=body.smart.measurable,
        achievable=body.smart.achievable,
        realistic=body.smart.realistic,
        target_date=body.smart.target_date,
        code=body.code,
        category=body.category.value,
        addresses_factor_ids=list(body.addresses_factor_ids),
        builds_on_factor_ids=list(body.builds_on_factor_ids),
        baseline=body.baseline,
        baseline_on=baseline_on,
        review_due_on=review_due_on(baseline_on, plan.review_every_days),
        status=GoalStatus.ACTIVE.value,
        created_by=user.sub,
    )
    session.add(goal)
    await session.flush()
    await bump_revision(session, plan.id)  # the plan's body lists its goals
    await audit.record(session, user, "create", "goal", goal.id)
    await emit_status(session, goal, baseline_on)
    return goal


async def _most_active_since(
    session: AsyncSession, plan_id: uuid.UUID, since: date
) -> tuple[date, list[uuid.UUID]]:
    """The day from `since` to today with the most goals active, and those goals.

    A goal is active from its baseline until (not on) its status change date, so a goal replaced
    on a day and its replacement baselined that day do not overlap. Only starts can raise the
    count, so the busiest day is `since` or a later baseline.
    """
    rows = (
        await session.execute(
            select(Goal.id, Goal.baseline_on, Goal.status, Goal.status_changed_on).where(
                Goal.plan_id == plan_id
            )
        )
    ).all()

    def active_on(day: date) -> list[uuid.UUID]:
        return [
            goal_id
            for goal_id, start, status, changed_on in rows
            if start <= day and (status == GoalStatus.ACTIVE.value or changed_on is None or day < changed_on)
        ]

    days = {since} | {start for _, start, _, _ in rows if since < start <= today()}
    busiest = max(sorted(days), key=lambda day: len(active_on(day)))
    return busiest, active_on(busiest)


async def load_goal(
    session: AsyncSession, user: Principal, goal_id: uuid.UUID, *, lock: bool = False
) -> tuple[Goal, Plan]:
    goal = await session.get(Goal, goal_id)
    if goal is None:
        raise not_found("goal", goal_id)
    plan = await load_plan(session, user, goal.plan_id, lock=lock)
    if lock:
        await session.refresh(goal, with_for_update=True)
    return goal, plan


def _require_active(goal: Goal) -> None:
    if goal.status != GoalStatus.ACTIVE.value:
        raise conflict("goal_not_active", f"the sub-goal is {goal.status}; only active goals are tracked")


async def _record_score(
    session: AsyncSession,
    user: Principal,
    goal: Goal,
    plan: Plan,
    score: int,
    recorded_on: date,
    given_by: GivenBy,
    field: str,
) -> Score:
    _check_day(field, recorded_on, goal.baseline_on, "before_baseline", "a tracking score")
    row = Score(
        id=uuid.uuid4(),
        goal_id=goal.id,
        score=score,
        recorded_on=recorded_on,
        given_by=given_by.value,
        recorded_by=user.sub,
    )
    session.add(row)
    if goal.latest_scored_on is None or recorded_on >= goal.latest_scored_on:
        goal.latest_score, goal.latest_scored_on = score, recorded_on
        goal.review_due_on = review_due_on(recorded_on, plan.review_every_days)
    await session.flush()
    await bump_revision(session, plan.id)  # the plan's body shows each goal's latest score
    await audit.record(session, user, "create", "score", row.id)
    await outbox.emit(
        session,
        "goal.scored",
        subject_id=goal.id,
        payload={
            "goal_id": goal.id,
            "plan_id": plan.id,
            "family_id": plan.family_id,
            "cluster_code": plan.cluster_code,
            "category": goal.category,
            "code": goal.code,
            "baseline": goal.baseline,
            "score": score,
            "recorded_on": recorded_on,
        },
    )
    return row


async def add_score(
    session: AsyncSession,
    user: Principal,
    goal_id: uuid.UUID,
    score: int,
    recorded_on: date,
    given_by: GivenBy,
) -> tuple[Goal, Score]:
    goal, plan = await load_goal(session, user, goal_id, lock=True)
    require_open(plan)
    _require_active(goal)
    row = await _record_score(session, user, goal, plan, score, recorded_on, given_by, "body.recorded_on")
    return goal, row


async def add_actions(
    session: AsyncSession, user: Principal, goal_id: uuid.UUID, items: list[ActionCreate]
) -> list[Action]:
    goal, plan = await load_goal(session, user, goal_id)
    require_open(plan)
    _require_active(goal)
    rows = []
    for i, item in enumerate(items):
        field = "body.done_on" if len(items) == 1 else f"body.actions[{i}].done_on"
        # The goal's baseline is on or after the plan's opening: work on a goal starts with it.
        _check_day(field, item.done_on, goal.baseline_on, "before_baseline", "an action")
        rows.append(
            Action(
                id=uuid.uuid4(),
                goal_id=goal.id,
                activity=item.activity.value,
                description=item.description,
                done_on=item.done_on,
                done_by=user.sub,
            )
        )
    session.add_all(rows)
    await session.flush()
    await audit.record_many(session, user, "create", "action", [r.id for r in rows])
    return rows


async def change_status(
    session: AsyncSession, user: Principal, goal_id: uuid.UUID, body: StatusChange
) -> Goal:
    goal, plan = await load_goal(session, user, goal_id, lock=True)
    require_open(plan)
    _require_active(goal)
    changed_on = body.changed_on or today()
    _check_day("body.changed_on", changed_on, goal.baseline_on, "before_baseline", "a status change")
    await set_status(session, user, goal, GoalStatus(body.status), changed_on)
    return goal


async def evaluate(
    session: AsyncSession,
    user: Principal,
    goal_id: uuid.UUID,
    body: EvaluationCreate,
    settings: Settings,
) -> tuple[Goal, Plan, Evaluation]:
    goal, plan = await load_goal(session, user, goal_id, lock=True)
    require_open(plan)
    _require_active(goal)
    await _record_score(
        session, user, goal, plan, body.score, body.reviewed_on, body.given_by, "body.reviewed_on"
    )
    evaluation = Evaluation(
        id=uuid.uuid4(),
        goal_id=goal.id,
        plan_id=plan.id,
        reviewed_on=body.reviewed_on,
        score=body.score,
        rationale=body.rationale,
        decision=body.decision.value,
        recorded_by=user.sub,
    )
    session.add(evaluation)
    await session.flush()
    await audit.record(session, user, "create", "evaluation", evaluation.id)
    if body.decision is EvaluationDecision.ACHIEVED:
        await set_status(session, user, goal, GoalStatus.ACHIEVED, body.reviewed_on)
    elif body.decision is EvaluationDecision.REPLACE:
        await set_status(session, user, goal, GoalStatus.REPLACED, body.reviewed_on)
    await _check_reformulation(session, user, plan, settings, body.reviewed_on)
    return goal, plan, evaluation


async def _check_reformulation(
    session: AsyncSession, user: Principal, plan: Plan, settings: Settings, on: date
) -> None:
    """Appendix 5 step 14: no progress against the overall goal -> formulate again."""
    rows = (
        await session.execute(
            select(Evaluation.goal_id, Evaluation.reviewed_on, Evaluation.score)
            .where(Evaluation.plan_id == plan.id)
            .order_by(Evaluation.reviewed_on, Evaluation.created_at, Evaluation.id)
        )
    ).all()
    baselines = dict(
        (await session.execute(select(Goal.id, Goal.baseline).where(Goal.plan_id == plan.id))).all()
    )
    reviews = [Review(str(g), d, s) for g, d, s in rows]
    run = reviews_without_progress(reviews, {str(k): v for k, v in baselines.items()})
    plan.reviews_without_progress = run
    flag = run >= settings.reformulation_after_reviews and plan.reformulation_flagged_on is None
    if flag:
        plan.reformulation_flagged_on = on
    await session.flush()
    await bump_revision(session, plan.id)
    if flag:
        await audit.record(session, user, "update", "plan", plan.id)
        await outbox.emit(
            session,
            "plan.reformulation_needed",
            subject_id=plan.id,
            payload={
                "plan_id": plan.id,
                "family_id": plan.family_id,
                "formulation_id": plan.formulation_id,
                "flagged_on": on,
                "reviews_without_progress": run,
            },
        )


def _overdue_where(user: Principal, worker_sub: str | None, as_of: date) -> list[ColumnElement[bool]]:
    """Active goals of open plans (of a case still open) whose review was due before `as_of`."""
    where = [
        Plan.status == "open",
        Plan.family_closed_on.is_(None),  # a closed case has no reviews to chase
        Goal.status == GoalStatus.ACTIVE.value,
        Goal.review_due_on < as_of,
    ]
    # Always the caller's teams (as GET /v1/plans): a lead worker who is not, or no longer, in the
    # plan's team does not see its family, plan and goal ids.
    where.append(plans_in_scope(user))
    if user.role is Role.PRACTITIONER:
        where.append(Plan.lead_worker_sub == user.sub)
    if worker_sub is not None:
        where.append(Plan.lead_worker_sub == worker_sub)
    return where


def _overdue_out(goal: Goal, as_of: date) -> OverdueReview:
    return OverdueReview(
        goal_id=goal.id,
        plan_id=goal.plan_id,
        family_id=goal.plan.family_id,
        lead_worker_sub=goal.plan.lead_worker_sub,
        last_scored_on=goal.latest_scored_on or goal.baseline_on,
        due_on=goal.review_due_on,
        days_overdue=(as_of - goal.review_due_on).days,
    )


async def overdue_reviews(
    session: AsyncSession,
    user: Principal,
    worker_sub: str | None,
    as_of: date,
    params: CursorParams,
) -> Page[OverdueReview]:
    """One page of overdue reviews, longest overdue first (by due date, then goal id)."""
    stmt = (
        select(Goal)
        .join(Goal.plan)
        .options(contains_eager(Goal.plan))
        .where(*_overdue_where(user, worker_sub, as_of))
    )
    page = await paginate(
        session,
        stmt,
        params,
        key=Goal.review_due_on,
        id_col=Goal.id,
        to_item=lambda goal: _overdue_out(goal, as_of),
    )
    await audit.record_many(session, user, "read", "plan", list({o.plan_id: None for o in page.items}))
    return page


async def overdue_by_worker(session: AsyncSession, user: Principal, as_of: date) -> list[OverdueByWorker]:
    """Counts per lead worker (no family ids), for a team manager's caseload view."""
    rows = (
        await session.execute(
            select(
                Plan.lead_worker_sub,
                func.count(),
                func.count(distinct(Plan.id)),
                func.min(Goal.review_due_on),
            )
            .select_from(Goal)
            .join(Goal.plan)
            .where(*_overdue_where(user, None, as_of))
            .group_by(Plan.lead_worker_sub)
        )
    ).all()
    return [
        OverdueByWorker(
            lead_worker_sub=worker,
            overdue_goals=goals,
            plans=plans,
            most_days_overdue=(as_of - earliest_due).days,
        )
        for worker, goals, plans, earliest_due in sorted(rows, key=lambda r: (-r[1], r[0]))
    ]
