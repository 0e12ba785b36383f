"""Request and response bodies for sub-goals, scores, actions and evaluations."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints

from services.goals_api.progress import Progress
from services.goals_api.vocab import ActivityCategory, EvaluationDecision, GoalCategory
from shared.schemas import RequestModel, ResponseModel

Text = Annotated[str, StringConstraints(min_length=1, max_length=4000)]
# strict: JSON true/false or "7" are not scores (bool is an int subclass in Python).
Rating = Annotated[int, Field(ge=0, le=10, strict=True)]


class GivenBy(StrEnum):
    """Who gave a tracking score (a role in the family, never a name)."""

    FAMILY = "family"
    PARENT_CARER = "parent_carer"
    CHILD_YOUNG_PERSON = "child_young_person"
    OTHER_FAMILY_MEMBER = "other_family_member"


class Smart(RequestModel):
    specific: Text
    measurable: Text
    achievable: Text
    realistic: Text
    target_date: date


class GoalCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "text": "Mum and the children have a calm morning routine",
                    "smart": {
                        "specific": "Everyone is up, dressed and fed by 8:15 on school days",
                        "measurable": "Mum scores the mornings each week",
                        "achievable": "Mum already manages this at weekends",
                        "realistic": "Grandma can help on Mondays",
                        "target_date": "2027-02-28",
                    },
                    "code": "E5",
                    "category": "education_outcomes",
                    "addresses_factor_ids": ["0d6f5a8e-2c4b-4a1e-9f3d-7b8c9e0a1b2c"],
                    "builds_on_factor_ids": ["5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"],
                    "baseline": 3,
                }
            ]
        }
    )

    text: Text
    smart: Smart
    code: Annotated[str, StringConstraints(min_length=2, max_length=4)]
    category: GoalCategory
    addresses_factor_ids: list[uuid.UUID] = Field(min_length=1, max_length=20)
    builds_on_factor_ids: list[uuid.UUID] = Field(default_factory=list, max_length=20)
    baseline: Rating
    baseline_on: date | None = None


class ScoreCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"score": 6, "recorded_on": "2026-11-20", "given_by": "parent_carer"}]
        }
    )

    score: Rating
    recorded_on: date
    given_by: GivenBy = GivenBy.FAMILY


class ActionCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "activity": "parenting_work",
                    "description": "Planned the school-morning routine with mum",
                    "done_on": "2026-11-18",
                }
            ]
        }
    )

    activity: ActivityCategory
    description: Text
    done_on: date


class ActionBatch(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "actions": [
                        {
                            "activity": "routines_and_boundaries",
                            "description": "Made a picture chart of the morning routine with the children",
                            "done_on": "2026-11-11",
                        },
                        {
                            "activity": "education_support",
                            "description": "Met the class teacher with mum to agree a late-arrival plan",
                            "done_on": "2026-11-13",
                        },
                    ]
                }
            ]
        }
    )

    actions: list[ActionCreate] = Field(min_length=1, max_length=500)


class EvaluationCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reviewed_on": "2026-11-20",
                    "score": 6,
                    "rationale": "Four calm mornings out of five this week",
                    "decision": "continue",
                }
            ]
        }
    )

    reviewed_on: date
    score: Rating
    rationale: Text
    decision: EvaluationDecision
    given_by: GivenBy = GivenBy.FAMILY


class StatusChange(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "achieved", "changed_on": "2026-11-20"}]}
    )

    status: Literal["achieved", "replaced", "discontinued"]
    changed_on: date | None = None


class ProgressOut(ResponseModel):
    progress: Progress
    change: int | None
    reliable: bool | None


class SmartOut(ResponseModel):
    specific: str
    measurable: str
    achievable: str
    realistic: str
    target_date: date


class GoalOut(ResponseModel):
    id: uuid.UUID
    plan_id: uuid.UUID
    text: str
    smart: SmartOut
    code: str
    category: str
    addresses_factor_ids: list[uuid.UUID]
    builds_on_factor_ids: list[uuid.UUID]
    baseline: int
    baseline_on: date
    status: str
    status_changed_on: date | None
    latest_score: int | None
    latest_scored_on: date | None
    progress: ProgressOut


class ScoreOut(ResponseModel):
    id: uuid.UUID
    goal_id: uuid.UUID
    score: int
    recorded_on: date
    given_by: str
    progress: ProgressOut


class ActionOut(ResponseModel):
    id: uuid.UUID
    goal_id: uuid.UUID
    activity: str
    description: str
    done_on: date
    done_by: str


class ActionBatchOut(ResponseModel):
    created: int
    ids: list[uuid.UUID]


class EvaluationOut(ResponseModel):
    id: uuid.UUID
    goal_id: uuid.UUID
    reviewed_on: date
    score: int
    rationale: str
    decision: str
    goal_status: str
    progress: ProgressOut
    reviews_without_progress: int
    reformulation_flagged: bool


class EvaluationRecord(ResponseModel):
    id: uuid.UUID
    goal_id: uuid.UUID
    reviewed_on: date
    score: int
    rationale: str
    decision: str
    recorded_by: str


class OverdueReview(ResponseModel):
    goal_id: uuid.UUID
    plan_id: uuid.UUID
    family_id: uuid.UUID
    lead_worker_sub: str
    last_scored_on: date
    due_on: date
    days_overdue: int


class OverdueByWorker(ResponseModel):
    lead_worker_sub: str
    overdue_goals: int
    plans: int
    most_days_overdue: int
