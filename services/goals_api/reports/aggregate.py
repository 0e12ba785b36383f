"""Pure aggregation behind the reports; the repository feeds it rows, the router shapes it.

Percentages are whole numbers rounded half up, as printed in the evaluation report, so the live
figures can be compared line by line with it (e.g. Table 4: 785 of 1004 = 78%).
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from services.goals_api.progress import Progress

_ONE = Decimal("1")
_TENTH = Decimal("0.1")
# Average Gregorian month, so "3.9 months" means the same thing whatever the calendar dates.
DAYS_PER_MONTH = Decimal("365.2425") / 12
SCORED = (Progress.IMPROVED, Progress.UNCHANGED, Progress.DETERIORATED)


def percent(part: int, whole: int) -> int | None:
    if whole == 0:
        return None
    return int((Decimal(part) * 100 / Decimal(whole)).quantize(_ONE, ROUND_HALF_UP))


def mean(values: Sequence[int | Decimal], places: Decimal = _TENTH) -> Decimal | None:
    return mean_of(Decimal(sum(values)), len(values), places)


def mean_of(total: Decimal | None, n: int, places: Decimal = _TENTH) -> Decimal | None:
    """A mean from a sum and a count summed in SQL (the same figure as `mean`, to the digit)."""
    if n == 0 or total is None:
        return None
    return (Decimal(total) / Decimal(n)).quantize(places, ROUND_HALF_UP)


# --- goal progress ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ProgressShares:
    goals: int
    improved: int
    unchanged: int
    deteriorated: int
    no_score: int
    improved_pct: int | None
    unchanged_pct: int | None
    deteriorated_pct: int | None


def goal_progress_shares(counts: Mapping[Progress, int]) -> ProgressShares:
    """Shares among goals that have a tracking score; goals with no score are counted apart."""
    counts = Counter(counts)
    scored = sum(counts[p] for p in SCORED)
    return ProgressShares(
        goals=scored + counts[Progress.NO_SCORE],
        improved=counts[Progress.IMPROVED],
        unchanged=counts[Progress.UNCHANGED],
        deteriorated=counts[Progress.DETERIORATED],
        no_score=counts[Progress.NO_SCORE],
        improved_pct=percent(counts[Progress.IMPROVED], scored),
        unchanged_pct=percent(counts[Progress.UNCHANGED], scored),
        deteriorated_pct=percent(counts[Progress.DETERIORATED], scored),
    )


@dataclass(frozen=True)
class CategoryRow:
    category: str
    n: int
    scored: int
    improved: int
    unchanged: int
    deteriorated: int
    percent_improved: int | None

    @property
    def no_score(self) -> int:
        return self.n - self.scored


def by_category(goals: Iterable[tuple[str, Progress, int]]) -> list[CategoryRow]:
    """n goals per category and the % of scored goals that improved (most frequent first).

    Input rows are (category, progress, number of goals).
    """
    n: Counter[str] = Counter()
    by: dict[str, Counter[Progress]] = {}
    for category, progress, count in goals:
        n[category] += count
        by.setdefault(category, Counter())[progress] += count
    rows = []
    for c in sorted(n, key=lambda c: (-n[c], c)):
        scored = sum(by[c][p] for p in SCORED)
        improved = by[c][Progress.IMPROVED]
        rows.append(
            CategoryRow(
                category=c,
                n=n[c],
                scored=scored,
                improved=improved,
                unchanged=by[c][Progress.UNCHANGED],
                deteriorated=by[c][Progress.DETERIORATED],
                percent_improved=percent(improved, scored),
            )
        )
    return rows


# --- Table 4 ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ActivityRow:
    activity: str
    deteriorated: int
    unchanged: int
    improved: int
    no_score: int
    total: int
    percent_on_improving_goals: int | None


def activities_by_progress(actions: Iterable[tuple[str, Progress, int]]) -> list[ActivityRow]:
    """Table 4: each action counted under the progress of the goal it was recorded against.

    Input rows are (activity, progress of its goal, number of actions). The last column is the
    share of all that activity's actions recorded on improving goals (improved / total, as in the
    report: 785 / 1004 = 78%).
    """
    table: dict[str, Counter[Progress]] = {}
    for activity, progress, count in actions:
        table.setdefault(activity, Counter())[progress] += count
    rows = []
    for activity, c in table.items():
        total = sum(c.values())
        rows.append(
            ActivityRow(
                activity=activity,
                deteriorated=c[Progress.DETERIORATED],
                unchanged=c[Progress.UNCHANGED],
                improved=c[Progress.IMPROVED],
                no_score=c[Progress.NO_SCORE],
                total=total,
                percent_on_improving_goals=percent(c[Progress.IMPROVED], total),
            )
        )
    rows.sort(key=lambda r: (-r.total, r.activity))
    return rows


# --- closures and duration ---------------------------------------------------------------------
@dataclass(frozen=True)
class ClosureRow:
    reason: str
    count: int
    percent: int | None


def closure_reasons(counts: Mapping[str, int], all_reasons: Sequence[str] = ()) -> list[ClosureRow]:
    """Count and share of each closure reason; `all_reasons` are listed even when zero."""
    total = sum(counts.values())
    keys = list(all_reasons) + sorted(k for k in counts if k not in all_reasons)
    # A reason nobody closed with is simply absent from `counts` (a plain dict from SQL).
    rows = [ClosureRow(k, counts.get(k, 0), percent(counts.get(k, 0), total)) for k in keys]
    rows.sort(key=lambda r: -r.count)
    return rows


def months_between(start: date, end: date) -> Decimal:
    return Decimal((end - start).days) / DAYS_PER_MONTH


def average_intervention_months(spans: Iterable[tuple[date, date]]) -> Decimal | None:
    months = [months_between(s, e) for s, e in spans]
    if not months:
        return None
    return (sum(months, Decimal(0)) / len(months)).quantize(_TENTH, ROUND_HALF_UP)


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def worked_on_over(spans: Iterable[tuple[date, date]], months: int = 3) -> int:
    """Goals worked on for more than `months` calendar months (start to end, or to as-of)."""
    return sum(1 for start, end in spans if end > add_months(start, months))


# --- family measures ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Feedback:
    treated_with_respect: bool
    would_recommend: bool
    service_rating: int
    communication_rating: int
    understanding_rating: int


@dataclass(frozen=True)
class FeedbackSummary:
    responses: int
    treated_with_respect: int
    would_recommend: int
    treated_with_respect_pct: int | None
    would_recommend_pct: int | None
    mean_how_well_service_did: Decimal | None
    mean_worker_communication: Decimal | None
    mean_understood_restorative_process: Decimal | None


def feedback_summary(surveys: Sequence[Feedback]) -> FeedbackSummary:
    n = len(surveys)
    respect = sum(1 for s in surveys if s.treated_with_respect)
    recommend = sum(1 for s in surveys if s.would_recommend)
    return FeedbackSummary(
        responses=n,
        treated_with_respect=respect,
        would_recommend=recommend,
        treated_with_respect_pct=percent(respect, n),
        would_recommend_pct=percent(recommend, n),
        mean_how_well_service_did=mean([s.service_rating for s in surveys]),
        mean_worker_communication=mean([s.communication_rating for s in surveys]),
        mean_understood_restorative_process=mean([s.understanding_rating for s in surveys]),
    )


@dataclass(frozen=True)
class Score15Summary:
    members_t1: int
    members_t2: int
    paired: int
    mean_t1: Decimal | None
    mean_t2: Decimal | None
    mean_change: Decimal | None  # over members with both T1 and T2; negative = fewer difficulties
    fewer_difficulties: int
    more_difficulties: int


@dataclass(frozen=True)
class Score15Sums:
    """Counted and summed in SQL over members (plan, member); change = T2 - T1 of paired members."""

    members_t1: int
    sum_t1: Decimal | None
    members_t2: int
    sum_t2: Decimal | None
    paired: int
    sum_change: Decimal | None
    fewer_difficulties: int
    more_difficulties: int


def score15_summary(sums: Score15Sums) -> Score15Summary:
    """Means to the hundredth; change is over paired members only (negative = fewer difficulties)."""
    hundredth = Decimal("0.01")
    return Score15Summary(
        members_t1=sums.members_t1,
        members_t2=sums.members_t2,
        paired=sums.paired,
        mean_t1=mean_of(sums.sum_t1, sums.members_t1, hundredth),
        mean_t2=mean_of(sums.sum_t2, sums.members_t2, hundredth),
        mean_change=mean_of(sums.sum_change, sums.paired, hundredth),
        fewer_difficulties=sums.fewer_difficulties,
        more_difficulties=sums.more_difficulties,
    )
