from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from pydantic import ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from services.formulation_api.formulations.rules import (
    FactorKind,
    FormulationContext,
    WayOfBeing,
    parse_factor_kind,
)
from services.formulation_api.inputs import RequestModel
from shared.schemas import ResponseModel

Sub = str


class Participant(RequestModel):
    role: str = Field(min_length=1, max_length=60, examples=["mother", "school", "young_person"])
    name: str | None = Field(None, max_length=200)


class FormulationCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "context": "with_family",
                    "facilitator_sub": "sw-example-1",
                    "participants": [
                        {"role": "mother", "name": "Alex Example"},
                        {"role": "young_person", "name": "Charlie Example"},
                        {"role": "school"},
                    ],
                }
            ]
        }
    )

    context: FormulationContext
    facilitator_sub: Sub | None = Field(None, pattern=r"^[A-Za-z0-9_.:@/-]{1,64}$")
    participants: list[Participant] = Field(default_factory=list, max_length=40)


class FactorIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "perpetuating",
                    "text": "Late nights on the phone make the mornings a struggle",
                    "driving": True,
                }
            ]
        }
    )

    kind: FactorKind = Field(description="One of the 6 Ps ('predicting' is read as 'predictive')")
    text: str = Field(min_length=1, max_length=2000)
    driving: bool = Field(False, description="A main driving factor (underlined on the wall)")

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> FactorKind:
        try:
            return parse_factor_kind(str(value))
        except ValueError:
            raise PydanticCustomError(
                "factor_kind",
                "kind must be one of presenting, predisposing, precipitating, perpetuating, "
                "protective, predictive",
            ) from None


class FactorPatch(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"text": "Late nights on the phone, most school nights", "driving": False}]
        }
    )

    text: str | None = Field(None, min_length=1, max_length=2000)
    driving: bool | None = None


class Prioritisation(RequestModel):
    """The 4 Ps: a perpetuating factor is a priority only when all four hold."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"prerequisite": True, "powerful": True, "proximal": True, "participant_goal": True}]
        }
    )

    prerequisite: bool
    powerful: bool
    proximal: bool
    participant_goal: bool


class FactorOut(ResponseModel):
    id: uuid.UUID
    kind: FactorKind
    text: str
    driving: bool
    prerequisite: bool | None
    powerful: bool | None
    proximal: bool | None
    participant_goal: bool | None
    priority: bool


class OverallGoal(RequestModel):
    text: str = Field(min_length=1, max_length=2000)
    factor_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50)


class StepIn(RequestModel):
    text: str = Field(min_length=1, max_length=2000)
    addresses_factor_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50)
    builds_on_factor_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50)


class NextStepsIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "summary": "The mornings have become a battle since the move; school is where it shows.",
                    "overall_goal": {
                        "text": "Charlie goes to school every day, calmly",
                        "factor_ids": ["6f1c3a52-8d1e-4c7b-9a55-0c3b7a1d2e01"],
                    },
                    "steps": [
                        {
                            "text": "Agree a morning routine with Mum and Charlie",
                            "addresses_factor_ids": ["0b9e4f7a-5a3c-4f0e-8d2b-6c1a9e8f7d02"],
                            "builds_on_factor_ids": ["9a7d2c1e-3b4f-4e5d-a6c7-b8d9e0f1a203"],
                        }
                    ],
                }
            ]
        }
    )

    summary: str | None = Field(None, max_length=5000, description="The hypothesis")
    overall_goal: OverallGoal
    steps: list[StepIn] = Field(default_factory=list, max_length=30)


class StepOut(ResponseModel):
    id: uuid.UUID
    text: str
    addresses_factor_ids: list[uuid.UUID]
    builds_on_factor_ids: list[uuid.UUID]


class GoalOut(ResponseModel):
    text: str | None
    factor_ids: list[uuid.UUID]


class WalkBackOut(ResponseModel):
    ok: bool
    problems: list[dict[str, Any]]


class FormulationOut(ResponseModel):
    id: uuid.UUID
    family_id: uuid.UUID
    version: int
    previous_id: uuid.UUID | None
    status: str
    context: FormulationContext
    facilitator_sub: str | None
    participants: list[dict[str, Any]]
    summary: str | None
    overall_goal: GoalOut
    factors: list[FactorOut]
    steps: list[StepOut]
    completed_on: date | None
    completed_by: str | None
    override_reason: str | None
    reformulation_requested_on: date | None
    revision: int


class FormulationCreated(ResponseModel):
    id: uuid.UUID
    version: int
    status: str
    previous_id: uuid.UUID | None


class CompleteIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"override_reason": "The protective factor's next step is agreed at next week's forum"}
            ]
        }
    )

    override_reason: str | None = Field(
        None, max_length=2000, description="Team manager's reason to complete despite the walk-back"
    )


class ReflectionIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"way": "with", "note": "We planned the routine together with the family, not for them"}
            ]
        }
    )

    way: WayOfBeing
    note: str | None = Field(None, max_length=2000)


class ReflectionOut(ResponseModel):
    id: uuid.UUID
    formulation_id: uuid.UUID | None
    supervision_id: uuid.UUID | None
    way: WayOfBeing
    note: str | None
    recorded_by: str
