"""Report bodies. In `disclosure=published` mode a count or figure may be the string "c"."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from shared.schemas import ResponseModel

# The only string a count, percentage or figure can be is "c" (suppressed).
Count = int | str
Pct = int | str | None
Figure = Decimal | str | None


class ReportFilters(ResponseModel):
    cluster: str | None
    team_id: str | None
    date_from: date | None
    date_to: date | None
    disclosure: Literal["none", "published"]


class CategoryOut(ResponseModel):
    category: str
    label: str
    n: Count
    improved: Count
    percent_improved: Pct


class GoalProgressReport(ResponseModel):
    filters: ReportFilters
    goals: Count
    improved: Count
    unchanged: Count
    deteriorated: Count
    no_score: Count
    improved_pct: Pct
    unchanged_pct: Pct
    deteriorated_pct: Pct
    reliable_change_points: int
    improved_reliably: Count
    deteriorated_reliably: Count
    goals_worked_on_over_three_months: Count
    by_category: list[CategoryOut]


class ActivityOut(ResponseModel):
    activity: str
    label: str
    deteriorated: Count
    unchanged: Count
    improved: Count
    no_score: Count
    total: Count
    percent_on_improving_goals: Pct


class ActivitiesReport(ResponseModel):
    filters: ReportFilters
    rows: list[ActivityOut]
    totals: ActivityOut | None


class ClosureOut(ResponseModel):
    reason: str
    label: str
    count: Count
    percent: Pct


class ClosuresReport(ResponseModel):
    filters: ReportFilters
    closed_plans: Count
    rows: list[ClosureOut]
    average_intervention_months: Figure


class FeedbackReport(ResponseModel):
    filters: ReportFilters
    responses: Count
    treated_with_respect_pct: Pct
    would_recommend_pct: Pct
    mean_how_well_service_did: Figure
    mean_worker_communication: Figure
    mean_understood_restorative_process: Figure


class Score15Report(ResponseModel):
    filters: ReportFilters
    members_t1: Count
    members_t2: Count
    paired: Count
    mean_t1: Figure
    mean_t2: Figure
    mean_change: Figure
    fewer_difficulties: Count
    more_difficulties: Count
