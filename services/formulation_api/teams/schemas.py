from __future__ import annotations

import uuid
from decimal import Decimal

from pydantic import ConfigDict, Field

from services.formulation_api.inputs import RequestModel
from services.formulation_api.teams.caseload import MemberRole
from shared.schemas import ResponseModel


class CaseloadLimits(RequestModel):
    # strict: JSON true or 4.0 is not a number of families (bool is an int subclass in Python).
    social_worker: int = Field(4, ge=0, le=50, strict=True)
    family_support_worker: int = Field(8, ge=0, le=50, strict=True)


class TeamCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "cluster_code": "RES-3",
                    "name": "RES team East",
                    "caseload_limits": {"social_worker": 4, "family_support_worker": 8},
                }
            ]
        }
    )

    cluster_code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    caseload_limits: CaseloadLimits = Field(default_factory=CaseloadLimits)


class TeamLimitsPut(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"caseload_limits": {"social_worker": 3, "family_support_worker": 8}}]
        }
    )

    caseload_limits: CaseloadLimits


class TeamOut(ResponseModel):
    id: uuid.UUID
    cluster_code: str
    name: str
    caseload_limits: dict[str, int]


class MemberCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"sub": "sw-example-1", "name": "Alex Example", "role": "social_worker", "fte": "0.8"}
            ]
        }
    )

    sub: str = Field(pattern=r"^[A-Za-z0-9_.:@/-]{1,64}$")
    name: str = Field(min_length=1, max_length=200)
    role: MemberRole
    fte: Decimal = Field(gt=0, le=1, max_digits=3, decimal_places=2)


class MemberOut(ResponseModel):
    id: uuid.UUID
    team_id: uuid.UUID
    sub: str
    name: str
    role: MemberRole
    fte: Decimal


class CaseloadOut(ResponseModel):
    sub: str
    role: MemberRole
    open_families: int
    limit: int | None
    has_capacity: bool
