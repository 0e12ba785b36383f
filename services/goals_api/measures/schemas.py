"""Bodies for the closure feedback survey and SCORE-15."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints

from shared.schemas import RequestModel, ResponseModel

# strict: JSON true/false or "7" are not ratings (bool is an int subclass in Python).
Rating = Annotated[int, Field(ge=1, le=10, strict=True)]
Item = Annotated[int, Field(ge=1, le=5, strict=True)]


class FeedbackCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "given_on": "2026-11-10",
                    "treated_with_respect": True,
                    "would_recommend": True,
                    "service_rating": 9,
                    "communication_rating": 8,
                    "understanding_rating": 7,
                }
            ]
        }
    )

    given_on: date
    treated_with_respect: bool
    would_recommend: bool
    service_rating: Rating  # "how well did the service do?"
    communication_rating: Rating  # "how well did the worker communicate with you?"
    understanding_rating: Rating  # "how well do you think you understood the restorative process?"


class FeedbackOut(ResponseModel):
    id: uuid.UUID
    plan_id: uuid.UUID
    given_on: date
    treated_with_respect: bool
    would_recommend: bool
    service_rating: int
    communication_rating: int
    understanding_rating: int


class Score15Create(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "member_ref": "parent-1",
                    "timepoint": "T1",
                    "completed_on": "2026-06-15",
                    "items": [3, 2, 4, 3, 3, 2, 4, 3, 2, 3, 4, 2, 3, 3, 2],
                }
            ]
        }
    )

    # A pseudonymous label for the family member, never a name.
    member_ref: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,40}$")]
    timepoint: Literal["T1", "T2"]
    completed_on: date
    items: list[Item] = Field(min_length=15, max_length=15)


class Score15Scores(ResponseModel):
    total: Decimal
    strengths_and_adaptability: Decimal
    overwhelmed_by_difficulties: Decimal
    disrupted_communication: Decimal


class Score15Out(ResponseModel):
    id: uuid.UUID
    plan_id: uuid.UUID
    member_ref: str
    timepoint: str
    completed_on: date
    scores: Score15Scores
    change_since_t1: Score15Scores | None = None
