from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from pydantic import Field

from services.formulation_api.formulations.rules import WayOfBeing
from services.formulation_api.inputs import PastDate, RequestModel
from shared.schemas import ResponseModel


class SupervisionKind(StrEnum):
    GROUP = "group"
    INDIVIDUAL = "individual"


class SessionIn(RequestModel):
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
    way: WayOfBeing
    note: str | None = Field(None, max_length=2000)
