from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import ConfigDict, Field

from services.formulation_api.families.consent import ConsentScope
from services.formulation_api.inputs import PastDate, PastDateTime, RequestModel
from services.formulation_api.referrals.rules import ClosureReason
from shared.schemas import ResponseModel


class MemberKind(StrEnum):
    CHILD = "child"
    YOUNG_PERSON = "young_person"
    ADULT = "adult"


class RelationshipType(StrEnum):
    PARENT_OF = "parent_of"
    STEP_PARENT_OF = "step_parent_of"
    CARER_OF = "carer_of"
    GRANDPARENT_OF = "grandparent_of"
    SIBLING_OF = "sibling_of"
    HALF_SIBLING_OF = "half_sibling_of"
    PARTNER_OF = "partner_of"
    EX_PARTNER_OF = "ex_partner_of"
    OTHER_RELATIVE_OF = "other_relative_of"


class FamilyMemberIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"kind": "adult", "name": "Alex Example", "birth_year": 1988, "contact": "07700 900123"},
                {"kind": "child", "name": "Charlie Example", "birth_year": 2014},
            ]
        }
    )

    kind: MemberKind
    name: str = Field(min_length=1, max_length=200)
    birth_year: int | None = Field(None, ge=1900, le=2100, strict=True)  # not true, not 2015.0
    contact: str | None = Field(None, max_length=300)


class FamilyDetails(RequestModel):
    reference_name: str = Field(min_length=1, max_length=200, examples=["The Example family"])
    members: list[FamilyMemberIn] = Field(default_factory=list, max_length=30)


class FamilyMemberOut(ResponseModel):
    id: uuid.UUID
    kind: MemberKind
    name: str
    birth_year: int | None
    contact: str | None


class RelationshipIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "from_member_id": "a1b2c3d4-0000-4e5f-8a9b-0c1d2e3f4a51",
                    "to_member_id": "a1b2c3d4-0000-4e5f-8a9b-0c1d2e3f4a52",
                    "type": "parent_of",
                }
            ]
        }
    )

    from_member_id: uuid.UUID
    to_member_id: uuid.UUID
    type: RelationshipType


class RelationshipOut(ResponseModel):
    id: uuid.UUID
    from_member_id: uuid.UUID
    to_member_id: uuid.UUID
    type: RelationshipType


class FamilyOut(ResponseModel):
    id: uuid.UUID
    reference_name: str
    cluster_code: str
    team_id: uuid.UUID
    lead_worker_sub: str
    support_type: str
    status: str
    opened_on: date
    closed_on: date | None
    closure_reason: str | None
    escalated_on: date | None
    members: list[FamilyMemberOut] = []
    relationships: list[RelationshipOut] = []


class CloseFamily(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason_code": "all_goals_achieved", "closed_on": "2026-11-02"}]}
    )

    reason_code: ClosureReason
    closed_on: PastDate | None = None


class EscalateFamily(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"escalated_on": "2026-10-20"}]})

    escalated_on: PastDate | None = None


class LeadWorkerIn(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"lead_worker_sub": "fsw-example-2"}]})

    lead_worker_sub: str = Field(
        pattern=r"^[A-Za-z0-9_.:@/-]{1,64}$",
        description="A social worker or family support worker of the family's team, with room",
    )


class LeadWorkerOut(ResponseModel):
    """The family's allocation only: no names, so admins may be shown it."""

    family_id: uuid.UUID = Field(validation_alias="id")
    team_id: uuid.UUID
    lead_worker_sub: str


class ConsentIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scope": "share_formulation_with_agency",
                    "agency": "Example Primary School",
                    "given_by": "Alex Example (parent)",
                    "given_at": "2026-10-12T10:30:00Z",
                },
                {"scope": "group_supervision", "given_by": "Alex Example (parent)"},
            ]
        }
    )

    scope: ConsentScope
    agency: str | None = Field(None, min_length=1, max_length=200)
    given_by: str = Field(min_length=1, max_length=200, description="Who in the family consented")
    given_at: PastDateTime | None = None


class ConsentOut(ResponseModel):
    id: uuid.UUID
    family_id: uuid.UUID
    scope: ConsentScope
    agency: str | None
    given_by: str
    given_at: datetime
    recorded_by: str
    withdrawn_at: datetime | None
