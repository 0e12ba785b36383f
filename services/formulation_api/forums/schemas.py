from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from pydantic import ConfigDict, Field

from services.formulation_api.forums.stats import Confidence, ForumType, Sector
from services.formulation_api.inputs import PastDate, RequestModel
from shared.schemas import ResponseModel


class ForumIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "practice_and_progress",
                    "held_on": "2026-10-21",
                    "cluster_code": "RES-3",
                    "facilitator_sub": "rf-example-1",
                    "family_id": "2f6b8c1e-4d3a-4e5f-9a7b-1c2d3e4f5a60",
                },
                {"type": "rethink_forum", "held_on": "2026-10-28", "cluster_code": "RES-3"},
            ]
        }
    )

    type: ForumType
    held_on: PastDate
    cluster_code: str | None = Field(None, min_length=1, max_length=40)
    facilitator_sub: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:@/-]{1,64}$")
    family_id: uuid.UUID | None = Field(
        None, description="The family a Rethink Space or Practice and Progress session is about"
    )


class ForumOut(ResponseModel):
    id: uuid.UUID
    type: ForumType
    held_on: date
    cluster_code: str | None
    facilitator_sub: str
    family_id: uuid.UUID | None


class AttendanceIn(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"sector": "education", "count": 4}]})

    sector: Sector
    count: int = Field(ge=1, le=500, strict=True)


class FeedbackIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "improved_understanding": "quite_a_bit",
                    "confidence": "very_much",
                    "broadened_perspective": True,
                    "multi_agency_networking": True,
                }
            ]
        }
    )

    improved_understanding: Confidence | None = None
    confidence: Confidence | None = None
    broadened_perspective: bool | None = None
    multi_agency_networking: bool | None = None


class AlignmentScoreIn(RequestModel):
    participant: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="A label, not a name")
    # strict: JSON true or 2.0 is not a score (bool is an int subclass in Python).
    start: int | None = Field(None, ge=0, le=10, strict=True)
    end: int | None = Field(None, ge=0, le=10, strict=True)


class AlignmentIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scores": [
                        {"participant": "p1", "start": 3, "end": 6},
                        {"participant": "p2", "start": 8, "end": 6},
                        {"participant": "p3", "start": 5, "end": 5},
                    ]
                }
            ]
        }
    )

    scores: list[AlignmentScoreIn] = Field(min_length=1, max_length=100)


class SpreadOut(ResponseModel):
    n: int
    mean: float
    sd: float
    range: float


class AlignmentOut(ResponseModel):
    participants: int
    start: SpreadOut | None
    end: SpreadOut | None
    converged: bool | None


class ForumReport(ResponseModel):
    sessions: int
    sessions_by_type: dict[str, int]
    attendances: int
    attendance_by_sector: dict[str, dict[str, int | Decimal | None]]
    feedback: dict[str, object]


class ForumDetail(ForumOut):
    attendances: int
    attendance_by_sector: dict[str, dict[str, int | Decimal | None]]
    feedback: dict[str, object]
    alignment: AlignmentOut | None = Field(None, description="Practice and Progress sessions only")
