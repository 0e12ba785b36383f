"""Event envelope and the catalogue of event types exchanged between services.

Payloads carry ids, dates, codes and counts only: never names or free text about a family. The
`Code` type forbids spaces, so a sentence cannot slip into a payload by accident.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:@/-]{1,64}$")]
ServiceName = Literal["formulation", "goals", "metrics"]
SERVICES: tuple[ServiceName, ...] = ("formulation", "goals", "metrics")


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventEnvelope(BaseModel):
    # Unknown envelope fields are ignored, not refused: during a rolling deploy a newer relay may add
    # one (a trace id, say) before every consumer knows it. What an event means is in its type,
    # version and payload; a payload change bumps the version, which a consumer checks.
    model_config = ConfigDict(extra="ignore")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    producer: ServiceName
    subject_id: str
    payload: dict[str, Any]


# --- formulation service -------------------------------------------------------------------------
class ClusterUpserted(Payload):
    cluster_code: Code
    res_start: date | None
    co_located: bool


class ReferralReceived(Payload):
    referral_id: uuid.UUID
    family_id: uuid.UUID | None = None
    cluster_code: Code
    source_code: Code
    support_type: Literal["early_help", "child_in_need"]
    received_on: date


class ReferralAccepted(Payload):
    referral_id: uuid.UUID
    family_id: uuid.UUID
    cluster_code: Code
    team_id: uuid.UUID
    lead_worker_sub: Code
    support_type: Literal["early_help", "child_in_need"]
    accepted_on: date


class ReferralDeclined(Payload):
    referral_id: uuid.UUID
    cluster_code: Code
    reason_code: Code
    declined_on: date


class ReferralRedirected(Payload):
    """RES did not take the referral and sent the family to another service (a code, never its name)."""

    referral_id: uuid.UUID
    cluster_code: Code
    destination_code: Code
    redirected_on: date


class FamilyClosed(Payload):
    family_id: uuid.UUID
    cluster_code: Code
    reason_code: Code
    closed_on: date


class FamilyLeadWorkerChanged(Payload):
    family_id: uuid.UUID
    cluster_code: Code
    team_id: uuid.UUID
    lead_worker_sub: Code
    previous_lead_worker_sub: Code
    changed_on: date


class CaseEscalated(Payload):
    family_id: uuid.UUID
    cluster_code: Code
    escalated_on: date


class FactorRef(Payload):
    factor_id: uuid.UUID
    kind: Literal["presenting", "predisposing", "precipitating", "perpetuating", "protective", "predictive"]
    priority: bool
    driving: bool


class FormulationCompleted(Payload):
    formulation_id: uuid.UUID
    family_id: uuid.UUID
    version: int
    previous_formulation_id: uuid.UUID | None = None
    cluster_code: Code
    team_id: uuid.UUID | None = None
    lead_worker_sub: Code | None = None
    factors: list[FactorRef]
    completed_on: date


# --- goals service -------------------------------------------------------------------------------
class PlanOpened(Payload):
    plan_id: uuid.UUID
    family_id: uuid.UUID
    formulation_id: uuid.UUID
    formulation_version: int
    cluster_code: Code
    opened_on: date


class GoalScored(Payload):
    goal_id: uuid.UUID
    plan_id: uuid.UUID
    family_id: uuid.UUID
    cluster_code: Code
    category: Code
    code: Code
    baseline: int
    score: int
    recorded_on: date


class GoalStatusChanged(Payload):
    goal_id: uuid.UUID
    plan_id: uuid.UUID
    status: Literal["active", "achieved", "replaced", "discontinued"]
    changed_on: date


class PlanClosed(Payload):
    plan_id: uuid.UUID
    family_id: uuid.UUID
    cluster_code: Code
    reason_code: Code
    opened_on: date
    closed_on: date
    goals_total: int
    goals_improved: int
    goals_achieved: int


class PlanReformulationNeeded(Payload):
    plan_id: uuid.UUID
    family_id: uuid.UUID
    formulation_id: uuid.UUID
    flagged_on: date
    reviews_without_progress: int


@dataclass(frozen=True)
class EventSpec:
    name: str
    producer: ServiceName
    consumers: tuple[ServiceName, ...]
    payload: type[Payload]
    version: int = 1


_SPECS = [
    EventSpec("cluster.upserted", "formulation", ("goals", "metrics"), ClusterUpserted),
    EventSpec("referral.received", "formulation", ("metrics",), ReferralReceived),
    EventSpec("referral.accepted", "formulation", ("goals", "metrics"), ReferralAccepted),
    EventSpec("referral.declined", "formulation", ("metrics",), ReferralDeclined),
    EventSpec("referral.redirected", "formulation", ("metrics",), ReferralRedirected),
    EventSpec("family.closed", "formulation", ("goals", "metrics"), FamilyClosed),
    EventSpec("family.lead_worker_changed", "formulation", ("goals",), FamilyLeadWorkerChanged),
    EventSpec("case.escalated", "formulation", ("metrics",), CaseEscalated),
    EventSpec("formulation.completed", "formulation", ("goals",), FormulationCompleted),
    EventSpec("plan.opened", "goals", ("metrics",), PlanOpened),
    EventSpec("goal.scored", "goals", ("metrics",), GoalScored),
    # No consumer yet: metrics counts goals from goal.scored and plan.closed.
    EventSpec("goal.status_changed", "goals", (), GoalStatusChanged),
    EventSpec("plan.closed", "goals", ("metrics", "formulation"), PlanClosed),
    EventSpec("plan.reformulation_needed", "goals", ("formulation",), PlanReformulationNeeded),
]
CATALOGUE: dict[str, EventSpec] = {spec.name: spec for spec in _SPECS}


class UnknownEventType(ValueError):
    pass


def build_envelope(
    producer: ServiceName, event_type: str, subject_id: object, payload: dict[str, Any]
) -> EventEnvelope:
    """Validate a payload against the catalogue and wrap it in an envelope."""
    spec = CATALOGUE.get(event_type)
    if spec is None:
        raise UnknownEventType(event_type)
    if spec.producer != producer:
        raise UnknownEventType(f"{event_type} is produced by {spec.producer}, not {producer}")
    checked = spec.payload.model_validate(payload)
    return EventEnvelope(
        type=event_type,
        version=spec.version,
        producer=producer,
        subject_id=str(subject_id),
        payload=checked.model_dump(mode="json"),
    )
