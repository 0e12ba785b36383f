"""Plan rules: opened on a completed formulation, one open plan per family, closing review."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.goals_api.access import plans_in_scope, require_scope
from services.goals_api.goals.models import Action, Goal, Score
from services.goals_api.goals.status import set_status
from services.goals_api.plans.models import Plan
from services.goals_api.plans.repository import bump_revision
from services.goals_api.plans.schemas import PlanClose, PlanCreate, SustainabilityPlan
from services.goals_api.progress import Progress, classify
from services.goals_api.projections.models import KnownFamily, KnownFormulation
from services.goals_api.vocab import CLOSING_REVIEW_REASONS, ClosureReason, GoalStatus
from shared import audit, outbox
from shared.auth import Principal, Role
from shared.clock import today
from shared.errors import conflict, not_found, unprocessable


async def open_plan(session: AsyncSession, user: Principal, body: PlanCreate) -> Plan:
    formulation = await session.get(KnownFormulation, body.formulation_id)
    if formulation is None or formulation.version != body.formulation_version:
        raise unprocessable(
            "body.formulation_id",
            "formulation_not_completed",
            "no completed formulation with this id and version is known: a plan can only be "
            "opened on a formulation version that has been completed (drafts are not accepted)",
        )
    if formulation.family_id != body.family_id:
        raise unprocessable(
            "body.family_id",
            "formulation_family_mismatch",
            "the formulation belongs to another family",
        )
    family = await session.get(KnownFamily, body.family_id)
    # The family's team now, not the one that completed the formulation: a re-referral hands the
    # family (and its formulations) to the accepting team (`referral.accepted`).
    team_id = family.team_id if family is not None and family.team_id is not None else formulation.team_id
    require_scope(user, team_id, formulation.cluster_code)
    if family is not None and family.closed_on is not None:
        raise conflict("family_closed", "the family's case is closed to the RES team")
    opened_on = body.opened_on or today()
    if opened_on > today():
        raise unprocessable("body.opened_on", "date_in_future", "a plan cannot open in the future")
    if opened_on < formulation.completed_on:
        raise unprocessable(
            "body.opened_on",
            "before_formulation",
            "a plan cannot open before its formulation was completed",
        )
    existing = await session.scalar(
        select(Plan.id).where(Plan.family_id == body.family_id, Plan.status == "open")
    )
    if existing is not None:
        raise conflict(
            "one_open_plan_per_family",
            "the family already has an open plan: one family, one lead worker, one plan",
            open_plan_id=str(existing),
        )
    plan = Plan(
        id=uuid.uuid4(),
        family_id=body.family_id,
        formulation_id=formulation.id,
        formulation_version=formulation.version,
        cluster_code=formulation.cluster_code,
        team_id=team_id,
        lead_worker_sub=_lead_worker(user, body, family, formulation),
        overall_goal=body.overall_goal,
        review_every_days=body.review_every_days,
        status="open",
        opened_on=opened_on,
        reviews_without_progress=0,
        revision=1,
        created_by=user.sub,
    )
    session.add(plan)
    try:
        await session.flush()
    except IntegrityError:
        # A concurrent request opened the family's plan between our check and our insert.
        raise conflict("one_open_plan_per_family", "the family already has an open plan") from None
    await audit.record(session, user, "create", "plan", plan.id)
    await outbox.emit(
        session,
        "plan.opened",
        subject_id=plan.id,
        payload={
            "plan_id": plan.id,
            "family_id": plan.family_id,
            "formulation_id": plan.formulation_id,
            "formulation_version": plan.formulation_version,
            "cluster_code": plan.cluster_code,
            "opened_on": plan.opened_on,
        },
    )
    return plan


def _lead_worker(
    user: Principal, body: PlanCreate, family: KnownFamily | None, formulation: KnownFormulation
) -> str:
    """One family, one lead worker: a team manager sets it in the formulation service and the plan
    follows it (consumers._plans_follow_family). The body cannot name anyone else, since the
    overdue reviews are chased with (and shown to) the plan's lead worker."""
    known = family.lead_worker_sub if family is not None else None
    if known is not None:
        if body.lead_worker_sub is not None and body.lead_worker_sub != known:
            raise unprocessable(
                "body.lead_worker_sub",
                "lead_worker_mismatch",
                "the family has another lead worker: a team manager changes it in the "
                "formulation service, and the plan follows",
            )
        return known
    # Not known here yet (no referral.accepted or lead worker change has arrived): nothing shows
    # who else may lead, so only the caller may name themself; the plan follows the family later.
    if body.lead_worker_sub is not None:
        if body.lead_worker_sub != user.sub:
            raise unprocessable(
                "body.lead_worker_sub",
                "lead_worker_not_caller",
                "the family's lead worker is not known yet: name yourself or leave it out "
                "(the formulation's lead worker)",
            )
        return user.sub
    return formulation.lead_worker_sub or user.sub


async def load_plan(
    session: AsyncSession, user: Principal, plan_id: uuid.UUID, *, lock: bool = False
) -> Plan:
    stmt = select(Plan).where(Plan.id == plan_id)
    if lock:
        stmt = stmt.with_for_update()
    plan = await session.scalar(stmt)
    if plan is None:
        raise not_found("plan", plan_id)
    require_scope(user, plan.team_id, plan.cluster_code)
    return plan


def require_open(plan: Plan) -> None:
    if plan.status != "open":
        raise conflict("plan_closed", "the plan is closed; open a new plan to record more work")


async def plan_goals(session: AsyncSession, plan_id: uuid.UUID) -> list[Goal]:
    rows = await session.scalars(
        select(Goal).where(Goal.plan_id == plan_id).order_by(Goal.created_at, Goal.id)
    )
    return list(rows)


async def close_plan(session: AsyncSession, user: Principal, plan: Plan, body: PlanClose) -> Plan:
    require_open(plan)
    if body.reason in CLOSING_REVIEW_REASONS and body.sustainability_plan is None:
        raise unprocessable(
            "body.sustainability_plan",
            "sustainability_plan_required",
            f"closing with '{body.reason.value}' is a closing review: agree a sustainability plan "
            "with the family (what was worked on, achieved, how to keep going, supports with "
            "contact details, what to look out for)",
        )
    if body.reason is ClosureReason.ALL_GOALS_ACHIEVED and not await _has_goals(session, plan.id):
        raise unprocessable(
            "body.reason",
            "no_goals",
            "the plan has no sub-goals, so none were achieved: close it with another reason",
        )
    closed_on = body.closed_on or today()
    if closed_on > today():
        raise unprocessable("body.closed_on", "date_in_future", "a plan cannot close in the future")
    if closed_on < plan.opened_on:
        raise unprocessable("body.closed_on", "before_opened", "a plan cannot close before it opened")
    latest_baseline = await _latest_active_baseline(session, plan.id)
    if latest_baseline is not None and closed_on < latest_baseline:
        raise unprocessable(
            "body.closed_on",
            "before_baseline",
            "the plan's active sub-goals end on the closing date, which cannot be before their "
            f"baseline ({latest_baseline.isoformat()})",
        )
    latest_work = await latest_recorded_work(session, plan.id)
    if latest_work is not None and closed_on < latest_work:
        raise unprocessable(
            "body.closed_on",
            "before_recorded_work",
            "a plan cannot close before work recorded on it (a score, action or status change on "
            f"{latest_work.isoformat()})",
        )
    sustainability = body.sustainability_plan.model_dump(mode="json") if body.sustainability_plan else None
    await _close(session, user, plan, body.reason, closed_on, sustainability)
    return plan


async def _has_goals(session: AsyncSession, plan_id: uuid.UUID) -> bool:
    return await session.scalar(select(Goal.id).where(Goal.plan_id == plan_id).limit(1)) is not None


async def _latest_active_baseline(session: AsyncSession, plan_id: uuid.UUID) -> date | None:
    latest: date | None = await session.scalar(
        select(func.max(Goal.baseline_on)).where(
            Goal.plan_id == plan_id, Goal.status == GoalStatus.ACTIVE.value
        )
    )
    return latest


async def latest_recorded_work(session: AsyncSession, plan_id: uuid.UUID) -> date | None:
    """The latest score (evaluations record one too), action or goal status change on the plan."""
    goal_ids = select(Goal.id).where(Goal.plan_id == plan_id).scalar_subquery()
    dates = [
        select(func.max(Score.recorded_on)).where(Score.goal_id.in_(goal_ids)).scalar_subquery(),
        select(func.max(Action.done_on)).where(Action.goal_id.in_(goal_ids)).scalar_subquery(),
        select(func.max(Goal.status_changed_on)).where(Goal.plan_id == plan_id).scalar_subquery(),
    ]
    latest: date | None = await session.scalar(select(func.greatest(*dates)))
    return latest


async def _close(
    session: AsyncSession,
    actor: Principal,
    plan: Plan,
    reason: ClosureReason,
    closed_on: date,
    sustainability: dict[str, Any] | None,
) -> None:
    goals = await plan_goals(session, plan.id)
    # No sub-goal stays active on a closed plan. Closing because all goals were achieved marks the
    # active ones achieved; any other closure (the family withdrew, escalation, another service,
    # a new formulation) discontinues them. Each change is a status change like a worker's own.
    outcome = GoalStatus.ACHIEVED if reason is ClosureReason.ALL_GOALS_ACHIEVED else GoalStatus.DISCONTINUED
    for goal in goals:
        if goal.status == GoalStatus.ACTIVE.value:
            # An upstream closure back-dated before a goal's baseline ends the goal on its first day.
            await set_status(session, actor, goal, outcome, max(closed_on, goal.baseline_on))
    improved = sum(1 for g in goals if classify(g.baseline, g.latest_score).progress is Progress.IMPROVED)
    achieved = sum(1 for g in goals if g.status == GoalStatus.ACHIEVED.value)
    plan.status = "closed"
    plan.closed_on = closed_on
    plan.closure_reason = reason.value
    plan.closed_by = actor.sub
    plan.sustainability_plan = sustainability
    await session.flush()
    await bump_revision(session, plan.id)
    await audit.record(session, actor, "update", "plan", plan.id)
    await outbox.emit(
        session,
        "plan.closed",
        subject_id=plan.id,
        payload={
            "plan_id": plan.id,
            "family_id": plan.family_id,
            "cluster_code": plan.cluster_code,
            "reason_code": plan.closure_reason,
            "opened_on": plan.opened_on,
            "closed_on": closed_on,
            "goals_total": len(goals),
            "goals_improved": improved,
            "goals_achieved": achieved,
        },
    )


# The actor recorded in the audit log and on the plan when an event, not a person, closes it.
FAMILY_CLOSED_ACTOR = Principal(sub="event:family.closed", role=Role.SCHEDULER)


async def close_for_family(
    session: AsyncSession, family_id: uuid.UUID, reason_code: str, closed_on: date
) -> None:
    """The family's RES case was closed upstream: close its open plan with the same reason.

    The formulation service closes families with the same five reasons as plans, so the plan's
    closure reason (and the closure report) stays true. No sustainability plan can come with an
    event; the plan shows `sustainability_plan_agreed: false` and the worker can still record
    one afterwards (POST /v1/plans/{id}/sustainability-plan). The plan's active goals end as at
    any closure (achieved or discontinued, by the event's actor). A reason this service does not
    know leaves the plan open but marked with `family_closed_on`, for the worker to close.
    """
    plans = await session.scalars(
        select(Plan).where(Plan.family_id == family_id, Plan.status == "open").with_for_update()
    )
    try:
        reason: ClosureReason | None = ClosureReason(reason_code)
    except ValueError:
        reason = None
    for plan in plans:
        plan.family_closed_on = closed_on
        # "All goals achieved" is not true of a plan without goals: left open and marked, as for
        # a reason this service does not know, for the worker to close with a true one.
        untrue = reason is ClosureReason.ALL_GOALS_ACHIEVED and not await _has_goals(session, plan.id)
        if reason is None or untrue:
            await session.flush()
            await bump_revision(session, plan.id)
            await audit.record(session, FAMILY_CLOSED_ACTOR, "update", "plan", plan.id)
            continue
        # A family closure back-dated before the plan opened, before an active goal's baseline or
        # before work recorded on it still closes the plan: on the latest of those days, as a
        # worker's close would have to.
        on = max(
            closed_on,
            plan.opened_on,
            await _latest_active_baseline(session, plan.id) or closed_on,
            await latest_recorded_work(session, plan.id) or closed_on,
        )
        await _close(session, FAMILY_CLOSED_ACTOR, plan, reason, on, None)


async def add_sustainability_plan(
    session: AsyncSession, user: Principal, plan: Plan, body: SustainabilityPlan
) -> Plan:
    """Record the sustainability plan after closure (e.g. when the case was closed upstream)."""
    if plan.status == "open":
        raise conflict(
            "plan_open",
            "the plan is still open: agree the sustainability plan at the closing review "
            "(POST /v1/plans/{id}/close)",
        )
    if plan.sustainability_plan is not None:
        raise conflict("sustainability_plan_exists", "a sustainability plan is already recorded")
    plan.sustainability_plan = body.model_dump(mode="json")
    await session.flush()
    await bump_revision(session, plan.id)
    await audit.record(session, user, "update", "plan", plan.id)
    return plan


def plans_query(user: Principal, family_id: uuid.UUID | None, status: str | None) -> Select[Plan]:
    """Plans of the caller's teams (plans without a team are listed by cluster)."""
    stmt = select(Plan).where(plans_in_scope(user))
    if family_id is not None:
        stmt = stmt.where(Plan.family_id == family_id)
    if status is not None:
        stmt = stmt.where(Plan.status == status)
    return stmt
