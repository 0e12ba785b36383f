"""Events the metrics service consumes.

Cluster events keep the local copy of clusters and RES start dates. RES activity events become
service records of the ``res_*`` measures (the child reference is the pseudonymous family id), so
they are counted, recomputed and de-duplicated exactly like partner records.
"""

from __future__ import annotations

from typing import cast

from pydantic import BaseModel
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics_worker.records import ServiceRecord
from services.metrics_worker.reference.models import Cluster
from services.metrics_worker.series.service import store_records
from shared.consumer import EventHandler
from shared.events import (
    CATALOGUE,
    CaseEscalated,
    ClusterUpserted,
    EventEnvelope,
    FamilyClosed,
    GoalScored,
    PlanClosed,
    PlanOpened,
    ReferralAccepted,
    ReferralDeclined,
    ReferralReceived,
    ReferralRedirected,
)
from shared.projections import upsert_if_newer


async def on_cluster_upserted(session: AsyncSession, event: EventEnvelope) -> None:
    """Every table is split at res_start: an older event applied late (a retry, a second worker)
    must not put an old date back, so the row changes only with an event at least as recent."""
    p = ClusterUpserted.model_validate(event.payload)
    values = {"code": p.cluster_code, "res_start": p.res_start, "co_located": p.co_located}
    await session.execute(
        upsert_if_newer(Cluster, "code", values, event.occurred_at, touch={"updated_at": func.now()})
    )


def _service_record(event: EventEnvelope) -> ServiceRecord:
    """The service record a RES activity event stands for; its source id is unique per fact."""
    model = cast("type[BaseModel]", CATALOGUE[event.type].payload)
    payload = model.model_validate(event.payload)
    measure: str
    fact = event.type  # names the fact in the source id, with `key`
    match payload:
        case ReferralReceived():
            child = str(payload.family_id or f"referral:{payload.referral_id}")
            measure, key, day = (
                "res_referral_received",
                str(payload.referral_id),
                payload.received_on,
            )
        case ReferralAccepted():
            child, day = str(payload.family_id), payload.accepted_on
            measure, key = "res_referral_accepted", str(payload.referral_id)
        case ReferralDeclined():
            child, day = f"referral:{payload.referral_id}", payload.declined_on
            measure, key = "res_referral_declined", str(payload.referral_id)
        case ReferralRedirected():
            # Not taken by RES, like a decline: the same record a redirect made when it travelled as
            # `referral.declined` (reason "redirected"), source id included, so figures do not move.
            child, day = f"referral:{payload.referral_id}", payload.redirected_on
            measure, key = "res_referral_declined", str(payload.referral_id)
            fact = "referral.declined"
        case FamilyClosed():
            child, day = str(payload.family_id), payload.closed_on
            measure, key = "res_family_closed", f"{payload.family_id}:{day}"
        case CaseEscalated():
            child, day = str(payload.family_id), payload.escalated_on
            measure, key = "res_case_escalated", f"{payload.family_id}:{day}"
        case PlanOpened():
            child, day = str(payload.family_id), payload.opened_on
            measure, key = "res_plan_opened", str(payload.plan_id)
        case PlanClosed():
            child, day = str(payload.family_id), payload.closed_on
            measure, key = "res_plan_closed", str(payload.plan_id)
        case GoalScored():
            child, day = str(payload.family_id), payload.recorded_on
            measure, key = "res_goal_scored", str(event.event_id)
        case _:
            raise ValueError(f"no service record for {event.type}")
    cluster = payload.cluster_code
    return ServiceRecord(measure, cluster, day, child, f"event:{fact}:{key}")


async def on_res_activity(session: AsyncSession, event: EventEnvelope) -> None:
    await store_records(session, [_service_record(event)])


RES_EVENTS = (
    "referral.received",
    "referral.accepted",
    "referral.declined",
    "referral.redirected",
    "family.closed",
    "case.escalated",
    "plan.opened",
    "plan.closed",
    "goal.scored",
)

HANDLERS: dict[str, EventHandler] = {
    "cluster.upserted": on_cluster_upserted,
    **dict.fromkeys(RES_EVENTS, on_res_activity),
}
