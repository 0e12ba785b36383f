from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from pydantic import ConfigDict, Field

from services.formulation_api.formulations.rules import WayOfBeing
from services.formulation_api.inputs import PastDate, RequestModel
from shared.schemas import ResponseModel


class SupervisionKind(StrEnum):
    GROUP = "group"
    INDIVIDUAL = "individual"


class SessionIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"team_id": "7c1e9a2b-3d4f-4a5b-8c6d-0e1f2a3b4c5d", "kind": "group", "held_on": "2026-10-14"}
            ]
        }
    )

    team_id: uuid.UUID
    kind: SupervisionKind
    held_on: PastDate


class SessionOut(ResponseModel):
    id: uuid.UUID
    team_id: uuid.UUID
    kind: SupervisionKind
    held_on: date
    supervisor_sub: str


class CaseIn(RequestModel):
    """A family discussed, with the outcome-focused check of its plan."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "family_id": "2f6b8c1e-4d3a-4e5f-9a7b-1c2d3e4f5a60",
                    "plan_id": "b3d9e4a0-77c1-4f3e-a2b5-19c8d0e6f402",
                    "rationale": "Mornings are calmer; school attendance is up but still below target",
                    "likely_to_achieve_goal": True,
                    "decision": "Continue the plan; review again in four weeks",
                    "follow_up_actions": ["Invite the school to the next review"],
                }
            ]
        }
    )

    family_id: uuid.UUID
    plan_id: uuid.UUID | None = None
    rationale: str | None = Field(None, max_length=5000)
    likely_to_achieve_goal: bool | None = Field(
        None, description="Is the plan likely to achieve the goal? If not, say why in rationale"
    )
    decision: str | None = Field(None, max_length=2000)
    follow_up_actions: list[str] = Field(default_factory=list, max_length=20)


class CaseOut(ResponseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    family_id: uuid.UUID
    plan_id: uuid.UUID | None
    rationale: str | None
    likely_to_achieve_goal: bool | None
    decision: str | None
    follow_up_actions: list[str]


class SessionReflectionIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"way": "with", "note": "The group helped the worker see the family's own ideas first"}
            ]
        }
    )

    way: WayOfBeing
    note: str | None = Field(None, max_length=2000)
