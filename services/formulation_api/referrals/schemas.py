from __future__ import annotations

import uuid
from datetime import date

from pydantic import ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from services.formulation_api.families.schemas import FamilyDetails
from services.formulation_api.inputs import PastDate, RequestModel
from services.formulation_api.referrals.rules import (
    DeclineReason,
    RedirectDestination,
    ResRoute,
    SupportType,
    normalise_source_code,
)
from shared.schemas import ResponseModel


class ReferralCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "cluster_code": "RES-1",
                    "source_code": "2A",
                    "route": "school_via_cluster_lead",
                    "referring_organisation": "Park Primary School",
                    "support_type": "early_help",
                    "reason": "Attendance has dropped since September; arguments at home in the mornings.",
                    "academy_outside_cluster": False,
                    "early_help_offer_in_place": False,
                    "family": {
                        "reference_name": "The Example family",
                        "members": [
                            {"kind": "adult", "name": "Alex Example", "birth_year": 1988},
                            {"kind": "child", "name": "Charlie Example", "birth_year": 2014},
                        ],
                    },
                }
            ]
        }
    )

    cluster_code: str = Field(min_length=1, max_length=40)
    source_code: str | None = Field(
        None, description="CIN census ReferralSource code (1A-1D, 2A-2B, 3A-3F, 4, 5A-5D, 6-10)"
    )
    route: ResRoute | None = Field(None, description="How the referral reached the RES team")
    referring_organisation: str = Field(min_length=1, max_length=200)
    support_type: SupportType
    reason: str = Field(min_length=1, max_length=5000)
    academy_outside_cluster: bool = False
    early_help_offer_in_place: bool = False
    family: FamilyDetails | None = None
    existing_family_id: uuid.UUID | None = Field(
        None,
        description=(
            "A re-referral of a known (closed) family, posted by staff who may see the family; "
            "partner systems send `family` instead (422 existing_family_staff_only). An unknown id "
            "and one outside your scope are both 422 unknown_family."
        ),
    )
    received_on: PastDate | None = None

    @field_validator("source_code")
    @classmethod
    def _cin(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalise_source_code(value)
        except ValueError:
            raise PydanticCustomError("cin_referral_source", "not a CIN census ReferralSource code") from None


class ReferralCreated(ResponseModel):
    id: uuid.UUID
    status: str
    source_code: str
    decline_reason: str | None = None


class ReferralStatusOut(ResponseModel):
    """What a partner system may see of its own referral: status only, no personal data."""

    id: uuid.UUID
    status: str
    received_on: date
    decided_on: date | None
    decline_reason: str | None
    redirected_to: str | None


class ReferralOut(ReferralStatusOut):
    cluster_code: str
    source_code: str
    route: str | None
    referring_organisation: str
    support_type: str
    reason: str
    academy_outside_cluster: bool
    early_help_offer_in_place: bool
    family_details: dict[str, object] | None
    existing_family_id: uuid.UUID | None
    conversation_on: date | None
    conversation_manager_sub: str | None
    conversation_notes: str | None
    decline_note: str | None
    family_id: uuid.UUID | None


class ConversationIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "held_on": "2026-10-05",
                    "manager_sub": "tm-example-1",
                    "notes": "Talked it through with the referrer; the family would like to meet the team.",
                }
            ]
        }
    )

    held_on: PastDate | None = None
    manager_sub: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:@/-]{1,64}$")
    notes: str = Field(min_length=1, max_length=5000)


class AcceptIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"lead_worker_sub": "sw-example-1", "accepted_on": "2026-10-07"}]}
    )

    lead_worker_sub: str = Field(pattern=r"^[A-Za-z0-9_.:@/-]{1,64}$")
    accepted_on: PastDate | None = None


class AcceptedOut(ResponseModel):
    id: uuid.UUID
    status: str
    family_id: uuid.UUID
    team_id: uuid.UUID
    lead_worker_sub: str


class DeclineIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reason_code": "already_supported",
                    "note": "Already supported by the cluster's targeted services",
                    "declined_on": "2026-10-07",
                }
            ]
        }
    )

    reason_code: DeclineReason
    note: str | None = Field(None, max_length=2000)
    declined_on: PastDate | None = None


class RedirectIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"to": "early_help_hub", "note": "Example Early Help Hub", "redirected_on": "2026-10-07"}
            ]
        }
    )

    to: RedirectDestination = Field(description="The kind of service the family was sent to (a code)")
    note: str | None = Field(None, max_length=2000, description="Free text, e.g. the service's name")
    redirected_on: PastDate | None = None
