"""Plan routes: open, read, list, close, printable sustainability plan, add sub-goals."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse

from services.goals_api.access import GoalsSettings, Workers
from services.goals_api.goals import service as goals_service
from services.goals_api.goals.schemas import GoalCreate, GoalOut
from services.goals_api.plans import printable, service
from services.goals_api.plans.models import Plan
from services.goals_api.plans.schemas import (
    PlanClose,
    PlanCreate,
    PlanOut,
    PlanSummary,
    SustainabilityPlan,
)
from services.goals_api.settings import Settings
from shared import audit
from shared.deps import DbSession
from shared.errors import Problem
from shared.http import STATIC_HTML_HEADERS, APIRouter, check_if_match, etag_for
from shared.pagination import CursorParams, Page, paginate

router = APIRouter(prefix="/v1/plans", tags=["plans"])


async def _plan_out(session: DbSession, plan: Plan, settings: Settings) -> PlanOut:
    goals = await service.plan_goals(session, plan.id)
    out = PlanOut.model_validate(plan)
    out.goals = [goals_service.goal_out(g, settings) for g in goals]
    return out


@router.post("", status_code=201, response_model=PlanOut, summary="Open a plan on a formulation")
async def open_plan(user: Workers, body: PlanCreate, session: DbSession, response: Response) -> PlanOut:
    plan = await service.open_plan(session, user, body)
    response.headers["Location"] = f"/v1/plans/{plan.id}"
    response.headers["ETag"] = etag_for(plan.revision)
    return PlanOut.model_validate(plan)


@router.get("", response_model=Page[PlanSummary], summary="Plans of the caller's teams (audited)")
async def list_plans(
    user: Workers,
    session: DbSession,
    params: Annotated[CursorParams, Depends()],
    family_id: uuid.UUID | None = None,
    status: Literal["open", "closed"] | None = None,
) -> Page[PlanSummary]:
    page = await paginate(
        session,
        service.plans_query(user, family_id, status),
        params,
        key=Plan.created_at,
        id_col=Plan.id,
        to_item=PlanSummary.model_validate,
    )
    await audit.record_many(session, user, "read", "plan", [p.id for p in page.items])
    return page


@router.get("/{plan_id}", response_model=PlanOut, summary="A plan with its sub-goals and progress")
async def get_plan(
    user: Workers,
    plan_id: uuid.UUID,
    session: DbSession,
    settings: GoalsSettings,
    response: Response,
) -> PlanOut:
    plan = await service.load_plan(session, user, plan_id)
    await audit.record(session, user, "read", "plan", plan.id)
    response.headers["ETag"] = etag_for(plan.revision)
    return await _plan_out(session, plan, settings)


@router.post(
    "/{plan_id}/close",
    response_model=PlanOut,
    summary="Close a plan (closing review)",
    description="Still-active sub-goals end with the plan, on the closing date: `achieved` when "
    "closing with `all_goals_achieved`, `discontinued` for any other reason.",
)
async def close_plan(
    user: Workers,
    plan_id: uuid.UUID,
    body: PlanClose,
    session: DbSession,
    settings: GoalsSettings,
    request: Request,
    response: Response,
) -> PlanOut:
    plan = await service.load_plan(session, user, plan_id, lock=True)
    check_if_match(request, plan.revision, required=False)
    plan = await service.close_plan(session, user, plan, body)
    response.headers["ETag"] = etag_for(plan.revision)
    return await _plan_out(session, plan, settings)


@router.get(
    "/{plan_id}/sustainability-plan",
    response_class=PlainTextResponse,
    summary="Printable sustainability plan to leave with the family",
    responses={200: {"content": {"text/plain": {}, "text/html": {}}}},
)
async def sustainability_plan(
    user: Workers,
    plan_id: uuid.UUID,
    session: DbSession,
    format: Literal["text", "html"] = Query("text", description="text (default) or a printable html page"),
) -> Response:
    plan = await service.load_plan(session, user, plan_id)
    if plan.sustainability_plan is None:
        raise Problem(404, detail="no sustainability plan was agreed for this plan", rule="not_found")
    goals = await service.plan_goals(session, plan.id)
    await audit.record(session, user, "export", "plan", plan.id)
    copy = printable.build(plan, goals)
    if format == "html":
        return HTMLResponse(printable.as_html(copy), headers=STATIC_HTML_HEADERS)
    return PlainTextResponse(printable.as_text(copy))


@router.post(
    "/{plan_id}/sustainability-plan",
    response_model=PlanOut,
    summary="Record the sustainability plan of a closed plan that has none yet",
    description="For a plan closed without one, e.g. when the family's case was closed in the "
    "formulation service (`closed_by: event:family.closed`). An open plan records it at closure.",
)
async def add_sustainability_plan(
    user: Workers,
    plan_id: uuid.UUID,
    body: SustainabilityPlan,
    session: DbSession,
    settings: GoalsSettings,
    request: Request,
    response: Response,
) -> PlanOut:
    plan = await service.load_plan(session, user, plan_id, lock=True)
    check_if_match(request, plan.revision, required=False)
    plan = await service.add_sustainability_plan(session, user, plan, body)
    response.headers["ETag"] = etag_for(plan.revision)
    return await _plan_out(session, plan, settings)


@router.post("/{plan_id}/goals", status_code=201, response_model=GoalOut, summary="Add a SMART sub-goal")
async def add_goal(
    user: Workers,
    plan_id: uuid.UUID,
    body: GoalCreate,
    session: DbSession,
    settings: GoalsSettings,
    response: Response,
) -> GoalOut:
    goal = await goals_service.add_goal(session, user, plan_id, body)
    response.headers["Location"] = f"/v1/goals/{goal.id}"
    return goals_service.goal_out(goal, settings)
