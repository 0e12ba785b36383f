"""Aggregate reports for team managers and analysts (no personal data; filter by cluster, team,
period; `disclosure=published` applies statistical disclosure control)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Depends, Query

from services.goals_api.access import GoalsSettings, Reporters, team_uuids
from services.goals_api.reports import aggregate, publish, repository
from services.goals_api.reports.repository import Scope
from services.goals_api.reports.schemas import (
    ActivitiesReport,
    ActivityOut,
    CategoryOut,
    ClosureOut,
    ClosuresReport,
    FeedbackReport,
    GoalProgressReport,
    ReportFilters,
    Score15Report,
)
from services.goals_api.vocab import (
    ACTIVITY_LABELS,
    CLOSURE_REASON_LABELS,
    GOAL_CATEGORY_LABELS,
    ClosureReason,
)
from shared.auth import Principal, Role
from shared.clock import today
from shared.deps import DbSession
from shared.errors import Problem, unprocessable
from shared.http import APIRouter

router = APIRouter(prefix="/v1/reports", tags=["reports"])


class Filters:
    def __init__(
        self,
        cluster: str | None = Query(None, pattern=r"^[A-Za-z0-9_-]{1,40}$", description="Cluster code"),
        team_id: uuid.UUID | None = Query(None, description="RES team id"),
        date_from: date | None = Query(None, alias="from", description="Period start (inclusive)"),
        date_to: date | None = Query(None, alias="to", description="Period end (inclusive)"),
        disclosure: Literal["none", "published"] = Query(
            "none", description="published: counts 1-5 shown as c, with secondary suppression"
        ),
    ) -> None:
        if date_from and date_to and date_to < date_from:
            raise unprocessable("query.to", "period_reversed", "`to` is before `from`")
        self.cluster = cluster
        self.team_id = team_id
        self.date_from = date_from
        self.date_to = date_to
        self.disclosure = disclosure

    @property
    def published(self) -> bool:
        return self.disclosure == "published"

    def echo(self) -> ReportFilters:
        return ReportFilters(
            cluster=self.cluster,
            team_id=str(self.team_id) if self.team_id else None,
            date_from=self.date_from,
            date_to=self.date_to,
            disclosure=self.disclosure,
        )

    def scope(self, user: Principal) -> Scope:
        """Team managers see their own teams only; analysts and admins see every team."""
        teams: list[uuid.UUID] | None = None
        if user.role is Role.TEAM_MANAGER:
            mine = team_uuids(user)
            if self.team_id is not None and self.team_id not in mine:
                raise Problem(403, detail="you can report on your own teams only", rule="team_scope")
            teams = [self.team_id] if self.team_id else mine
        elif self.team_id is not None:
            teams = [self.team_id]
        return Scope(self.cluster, teams, self.date_from, self.date_to)


ReportQuery = Annotated[Filters, Depends()]


def _label(labels: Mapping[Any, str], code: str) -> str:
    # StrEnum keys compare and hash equal to their plain-string values.
    return labels.get(code, code)


@router.get("/goal-progress", response_model=GoalProgressReport, summary="Goal outcomes")
async def goal_progress(
    user: Reporters, session: DbSession, filters: ReportQuery, settings: GoalsSettings
) -> GoalProgressReport:
    scope = filters.scope(user)
    counts = await repository.goal_counts(session, scope)
    totals: dict[aggregate.Progress, int] = {}
    for _, progress, n in counts:
        totals[progress] = totals.get(progress, 0) + n
    shares = aggregate.goal_progress_shares(totals)
    up, down = await repository.reliable_counts(session, scope, settings.reliable_change_points)
    over = await repository.goals_worked_on_over(session, scope, 3, today())
    cats = aggregate.by_category(counts)
    labels = GOAL_CATEGORY_LABELS
    if not filters.published:
        return GoalProgressReport(
            filters=filters.echo(),
            goals=shares.goals,
            improved=shares.improved,
            unchanged=shares.unchanged,
            deteriorated=shares.deteriorated,
            no_score=shares.no_score,
            improved_pct=shares.improved_pct,
            unchanged_pct=shares.unchanged_pct,
            deteriorated_pct=shares.deteriorated_pct,
            reliable_change_points=settings.reliable_change_points,
            improved_reliably=up,
            deteriorated_reliably=down,
            goals_worked_on_over_three_months=over,
            by_category=[
                CategoryOut(
                    category=c.category,
                    label=_label(labels, c.category),
                    n=c.n,
                    improved=c.improved,
                    percent_improved=c.percent_improved,
                )
                for c in cats
            ],
        )
    # The summary line is the totals row of the category table.
    *rows, summary = publish.categories(cats)
    cells, total = summary[:4], summary[4]
    return GoalProgressReport(
        filters=filters.echo(),
        goals=total,
        improved=cells[0],
        unchanged=cells[1],
        deteriorated=cells[2],
        no_score=cells[3],
        improved_pct=publish.pct(shares.improved_pct, *summary),
        unchanged_pct=publish.pct(shares.unchanged_pct, *summary),
        deteriorated_pct=publish.pct(shares.deteriorated_pct, *summary),
        reliable_change_points=settings.reliable_change_points,
        improved_reliably=publish.part(up, shares.improved, cells[0]),
        deteriorated_reliably=publish.part(down, shares.deteriorated, cells[2]),
        goals_worked_on_over_three_months=publish.part(over, shares.goals, total),
        by_category=[
            CategoryOut(
                category=c.category,
                label=_label(labels, c.category),
                n=row[4],
                improved=row[0],
                # improved / scored: hidden with any cell of its row (n - scored is no score).
                percent_improved=publish.pct(c.percent_improved, *row),
            )
            for c, row in zip(cats, rows, strict=True)
        ],
    )


def _activity_out(activity: str, cells: list[int | str], pct: int | str | None) -> ActivityOut:
    return ActivityOut(
        activity=activity,
        label=_label(ACTIVITY_LABELS, activity) if activity != "total" else "Total",
        deteriorated=cells[0],
        unchanged=cells[1],
        improved=cells[2],
        no_score=cells[3],
        total=cells[4],
        percent_on_improving_goals=pct,
    )


@router.get(
    "/activities",
    response_model=ActivitiesReport,
    summary="Table 4: activities recorded against goal progress",
)
async def activities(user: Reporters, session: DbSession, filters: ReportQuery) -> ActivitiesReport:
    rows = aggregate.activities_by_progress(await repository.activity_counts(session, filters.scope(user)))
    if not rows:
        return ActivitiesReport(filters=filters.echo(), rows=[], totals=None)
    if filters.published:
        grid = publish.activities(rows)
    else:
        grid = [[r.deteriorated, r.unchanged, r.improved, r.no_score, r.total] for r in rows]
        grid.append([sum(col) for col in zip(*grid, strict=True)])
    total_row = grid[-1]
    total_pct = aggregate.percent(sum(r.improved for r in rows), sum(r.total for r in rows))
    return ActivitiesReport(
        filters=filters.echo(),
        rows=[
            _activity_out(r.activity, cells, publish.pct(r.percent_on_improving_goals, cells[2], cells[4]))
            for r, cells in zip(rows, grid, strict=False)
        ],
        totals=_activity_out("total", total_row, publish.pct(total_pct, total_row[2], total_row[4])),
    )


@router.get("/closures", response_model=ClosuresReport, summary="Closure reasons and length")
async def closures(user: Reporters, session: DbSession, filters: ReportQuery) -> ClosuresReport:
    scope = filters.scope(user)
    counts = await repository.closure_counts(session, scope)
    rows = aggregate.closure_reasons(counts, [r.value for r in ClosureReason])
    closed = sum(counts.values())
    days = await repository.average_length_days(session, scope)
    months = None
    if days is not None:
        months = (days / aggregate.DAYS_PER_MONTH).quantize(aggregate._TENTH)
    if filters.published:
        cells, total = publish.closures(rows, closed)
        months_out = publish.figure(months, closed)
    else:
        cells, total, months_out = [r.count for r in rows], closed, months
    return ClosuresReport(
        filters=filters.echo(),
        closed_plans=total,
        rows=[
            ClosureOut(
                reason=r.reason,
                label=_label(CLOSURE_REASON_LABELS, r.reason),
                count=cell,
                percent=publish.pct(r.percent, cell, total),
            )
            for r, cell in zip(rows, cells, strict=True)
        ],
        average_intervention_months=months_out,
    )


@router.get("/feedback", response_model=FeedbackReport, summary="Family feedback at closure")
async def feedback(user: Reporters, session: DbSession, filters: ReportQuery) -> FeedbackReport:
    s = aggregate.feedback_summary(await repository.feedback_rows(session, filters.scope(user)))
    n = s.responses
    if filters.published:
        respect, _ = publish.line([s.treated_with_respect, n - s.treated_with_respect], n)
        recommend, total = publish.line([s.would_recommend, n - s.would_recommend], n)
        return FeedbackReport(
            filters=filters.echo(),
            responses=total,
            treated_with_respect_pct=publish.pct(s.treated_with_respect_pct, *respect),
            would_recommend_pct=publish.pct(s.would_recommend_pct, *recommend),
            mean_how_well_service_did=publish.figure(s.mean_how_well_service_did, n),
            mean_worker_communication=publish.figure(s.mean_worker_communication, n),
            mean_understood_restorative_process=publish.figure(s.mean_understood_restorative_process, n),
        )
    return FeedbackReport(
        filters=filters.echo(),
        responses=n,
        treated_with_respect_pct=s.treated_with_respect_pct,
        would_recommend_pct=s.would_recommend_pct,
        mean_how_well_service_did=s.mean_how_well_service_did,
        mean_worker_communication=s.mean_worker_communication,
        mean_understood_restorative_process=s.mean_understood_restorative_process,
    )


@router.get("/score15", response_model=Score15Report, summary="SCORE-15 at T1 and T2")
async def score15(user: Reporters, session: DbSession, filters: ReportQuery) -> Score15Report:
    s = aggregate.score15_summary(await repository.score15_sums(session, filters.scope(user)))
    if filters.published:
        # Fewer + more + unchanged = paired: one line with its total, so none comes back by subtraction.
        (fewer, more, _), paired = publish.score15_change(s)
        return Score15Report(
            filters=filters.echo(),
            members_t1=publish.single(s.members_t1),
            members_t2=publish.single(s.members_t2),
            paired=paired,
            mean_t1=publish.figure(s.mean_t1, s.members_t1),
            mean_t2=publish.figure(s.mean_t2, s.members_t2),
            mean_change=publish.figure(s.mean_change, s.paired, paired),
            fewer_difficulties=fewer,
            more_difficulties=more,
        )
    return Score15Report(filters=filters.echo(), **s.__dict__)
