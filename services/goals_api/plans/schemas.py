"""Request and response bodies for plans."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from pydantic import Field, StringConstraints

from services.goals_api.goals.schemas import GoalOut
from services.goals_api.vocab import ClosureReason
from shared.schemas import RequestModel, ResponseModel

Sub = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:@/-]{1,64}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class PlanCreate(RequestModel):
    family_id: uuid.UUID
    formulation_id: uuid.UUID
    formulation_version: int = Field(ge=1)
    overall_goal: Text
    review_every_days: int = Field(default=7, ge=1, le=90)
    lead_worker_sub: Sub | None = None
    opened_on: date | None = None


class Support(RequestModel):
    who: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    contact: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class SustainabilityPlan(RequestModel):
    """Appendix 5, step 15 (a)-(e)."""

    worked_on: Text
    achieved: Text
    keep_going: Text
    supports: list[Support] = Field(min_length=1, max_length=20)
    look_out_for: Text


class PlanClose(RequestModel):
    reason: ClosureReason
    closed_on: date | None = None
    sustainability_plan: SustainabilityPlan | None = None


class PlanOut(ResponseModel):
    id: uuid.UUID
    family_id: uuid.UUID
    formulation_id: uuid.UUID
    formulation_version: int
    cluster_code: str
    team_id: uuid.UUID | None
    lead_worker_sub: str
    overall_goal: str
    review_every_days: int
    status: str
    opened_on: date
    closed_on: date | None
    closure_reason: str | None
    reformulation_flagged_on: date | None
    reviews_without_progress: int
    goals: list[GoalOut] = []


class PlanSummary(ResponseModel):
    id: uuid.UUID
    family_id: uuid.UUID
    status: str
    opened_on: date
    closed_on: date | None
    lead_worker_sub: str
    reformulation_flagged_on: date | None
