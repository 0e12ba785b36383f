"""What the monthly series count: statutory measures (posted by partners or imported) and RES
activity measures (from the formulation and goals services' events)."""

from __future__ import annotations

from services.metrics_worker.records import RECORD_TYPES

RES_MEASURES = (
    "res_referral_received",
    "res_referral_accepted",
    "res_referral_declined",
    "res_family_closed",
    "res_case_escalated",
    "res_plan_opened",
    "res_plan_closed",
    "res_goal_scored",
)
MEASURES: tuple[str, ...] = (*RECORD_TYPES, *RES_MEASURES)
