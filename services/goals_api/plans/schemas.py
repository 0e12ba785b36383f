"""Request and response bodies for plans."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from services.goals_api.goals.schemas import GoalOut
from services.goals_api.vocab import ClosureReason
from shared.schemas import RequestModel, ResponseModel

Sub = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:@/-]{1,64}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class PlanCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "family_id": "6f1c2a52-3b0e-4c59-9d7e-0b1a5e0c2f11",
                    "formulation_id": "b3d9e4a0-77c1-4f3e-a2b5-19c8d0e6f402",
                    "formulation_version": 1,
                    "overall_goal": "The children feel safe and settled at home and go to school",
                    "review_every_days": 7,
                }
            ]
        }
    )

    family_id: uuid.UUID
    formulation_id: uuid.UUID
    formulation_version: int = Field(ge=1, strict=True)
    overall_goal: Text
    review_every_days: int = Field(default=7, ge=1, le=90, strict=True)
    lead_worker_sub: Sub | None = Field(
        default=None,
        description="Leave out: the plan is led by the family's lead worker (set by a team manager in "
        "the formulation service; 422 lead_worker_mismatch if another is named). Before it is known "
        "here only the caller may be named (422 lead_worker_not_caller); left out, the formulation's "
        "lead worker leads.",
    )
    opened_on: date | None = None


class Support(RequestModel):
    who: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    contact: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class SustainabilityPlan(RequestModel):
    """Appendix 5, step 15 (a)-(e)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "worked_on": "Morning routines and getting to school on time",
                    "achieved": "On time every school day for six weeks",
                    "keep_going": "Keep the bedtime chart and the Sunday planning chat",
                    "supports": [
                        {"who": "School family support worker", "contact": "0113 000 0000"},
                        {
                            "who": "Local parents' group (Tuesday mornings)",
                            "contact": "parents-group@example.org",
                        },
                    ],
                    "look_out_for": "Late nights creeping back in the holidays",
                }
            ]
        }
    )

    worked_on: Text
    achieved: Text
    keep_going: Text
    supports: list[Support] = Field(min_length=1, max_length=20)
    look_out_for: Text


class PlanClose(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reason": "all_goals_achieved",
                    "sustainability_plan": {
                        "worked_on": "Morning routines and getting to school on time",
                        "achieved": "On time every school day for six weeks",
                        "keep_going": "Keep the bedtime chart and the Sunday planning chat",
                        "supports": [{"who": "School family support worker", "contact": "0113 000 0000"}],
                        "look_out_for": "Late nights creeping back in the holidays",
                    },
                },
                {"reason": "family_no_longer_wanted_support", "closed_on": "2026-11-20"},
            ]
        }
    )

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
    closed_by: str | None = Field(
        description='The worker who closed the plan, or "event:family.closed" when it was closed '
        "because the family's case was closed in the formulation service"
    )
    family_closed_on: date | None = Field(
        description="When the family's RES case was closed (from the formulation service)"
    )
    sustainability_plan_agreed: bool
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
    family_closed_on: date | None
    reformulation_flagged_on: date | None
