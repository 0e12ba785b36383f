"""Before/after-RES table (Tables 1 and 2 of the evaluation) from monthly counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property

from services.metrics_worker.months import month_of, month_range, months_between
from services.metrics_worker.stats import PooledRateRatio, RateRatio, pooled_rate_ratio, rate_ratio_exact


@dataclass(frozen=True)
class PrePostRow:
    cluster: str
    res_start: date
    pre_months: int
    pre_count: int
    pre_monthly_average: float | None
    post_months: int
    post_count: int
    post_monthly_average: float | None
    difference: float | None
    rate: RateRatio


@dataclass(frozen=True)
class PrePostTotal:
    pre_count: int
    pre_monthly_average: float
    post_count: int
    post_monthly_average: float
    difference: float
    # (pre count, pre months, post count, post months) of the summed clusters
    strata: tuple[tuple[int, int, int, int], ...]
    # The clusters with months on both sides of their RES start inside the window: only these
    # are summed, since a cluster seen on one side only has no change to add.
    clusters: tuple[str, ...]
    # The report summed cluster averages already rounded to 2 dp; kept beside the exact sums so
    # its printed totals can be reproduced (its -3.19 is -3.20 at full precision).
    printed_pre_monthly_average: Decimal
    printed_post_monthly_average: Decimal
    printed_difference: Decimal

    @cached_property
    def pooled(self) -> PooledRateRatio:
        """Computed when read (the table's total row), not by the callers that only need the sums
        (costs, the published series' view): the exact method can take ~15 ms."""
        return pooled_rate_ratio(self.strata)


def round2(value: float | None) -> Decimal:
    """Half-up to 2 dp, as printed (207/24 = 8.625 prints 8.63)."""
    return Decimal(repr(value or 0.0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _average(count: int, months: int) -> float | None:
    return count / months if months else None


def pre_post_table(
    counts: Mapping[tuple[str, date], int],
    res_starts: Mapping[str, date],
    first: date,
    last: date,
) -> tuple[list[PrePostRow], PrePostTotal]:
    """Per RES cluster: months, count and monthly average before its RES start month and from it.

    Months without records count as zero months inside the window (the window fixes the months,
    not the data). The total row sums the averages of the clusters seen on both sides of their
    start, as the report does; its rate ratio is pooled within clusters (``pooled_rate_ratio``).
    """
    first, last = month_of(first), month_of(last)
    if last < first:
        raise ValueError("the window ends before it starts")
    rows: list[PrePostRow] = []
    for cluster in sorted(res_starts):
        start = month_of(res_starts[cluster])
        pre_months = max(0, min(months_between(first, start), months_between(first, last) + 1))
        post_months = months_between(first, last) + 1 - pre_months
        pre = post = 0
        for month in month_range(first, last):
            n = counts.get((cluster, month), 0)
            if month < start:
                pre += n
            else:
                post += n
        pre_avg, post_avg = _average(pre, pre_months), _average(post, post_months)
        diff = post_avg - pre_avg if pre_avg is not None and post_avg is not None else None
        rows.append(
            PrePostRow(
                cluster=cluster,
                res_start=start,
                pre_months=pre_months,
                pre_count=pre,
                pre_monthly_average=pre_avg,
                post_months=post_months,
                post_count=post,
                post_monthly_average=post_avg,
                difference=diff,
                rate=rate_ratio_exact(pre, pre_months, post, post_months),
            )
        )
    compared = [r for r in rows if r.pre_months and r.post_months]
    pre_total = sum(r.pre_monthly_average or 0.0 for r in compared)
    post_total = sum(r.post_monthly_average or 0.0 for r in compared)
    printed_pre = sum((round2(r.pre_monthly_average) for r in compared), Decimal(0))
    printed_post = sum((round2(r.post_monthly_average) for r in compared), Decimal(0))
    total = PrePostTotal(
        pre_count=sum(r.pre_count for r in compared),
        pre_monthly_average=pre_total,
        post_count=sum(r.post_count for r in compared),
        post_monthly_average=post_total,
        difference=post_total - pre_total,
        strata=tuple((r.pre_count, r.pre_months, r.post_count, r.post_months) for r in compared),
        clusters=tuple(r.cluster for r in compared),
        printed_pre_monthly_average=printed_pre,
        printed_post_monthly_average=printed_post,
        printed_difference=printed_post - printed_pre,
    )
    return rows, total
