"""Read models: the before/after-RES table, one cluster's series, rates and sustained outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics_worker.access import Disclosure
from services.metrics_worker.months import add_months, format_month, month_of, month_range
from services.metrics_worker.prepost import PrePostRow, PrePostTotal, pre_post_table
from services.metrics_worker.reference.models import Cluster, Population
from services.metrics_worker.series.service import freshness, monthly_counts
from services.metrics_worker.stats import RateRatio, fixed_effects_rate_ratio
from shared.disclosure import SUPPRESSED, suppress_counts, suppress_line, suppress_table
from shared.errors import not_found

SMALL = 5  # the primary suppression threshold of shared.disclosure

CAVEATS = [
    "Before/after comparison without randomisation: changes cannot be attributed to RES alone.",
    "Other changes in Leeds over the same period (policy, thresholds, recording) affect both "
    "periods differently.",
    "The rate ratio's exact interval assumes Poisson counts; monthly counts are often "
    "over-dispersed, so the interval may be too narrow.",
    "The comparison-group estimate assumes RES and non-RES clusters would have followed "
    "parallel trends on the log scale.",
]


POOLED_METHODS = {
    "exact_conditional": "exact conditional rate ratio stratified by cluster (each cluster "
    "compared with itself; conditional maximum likelihood, exact interval and p-value)",
    "mantel_haenszel": "Mantel-Haenszel rate ratio stratified by cluster, Greenland-Robins "
    "interval, stratified score test (used when the counts are too large for the exact method)",
}


def _rr(rate: RateRatio) -> dict[str, Any]:
    return {"rate_ratio": rate.ratio, "rate_ratio_ci95": list(rate.ci95), "p_value": rate.p_value}


async def clusters_with_starts(session: AsyncSession) -> dict[str, date | None]:
    """Each cluster's RES start *month* (its first day): the whole start month counts as with
    RES, so every table, series, chart and estimate splits the months at the same place even
    when the start date given is mid-month."""
    rows = await session.execute(select(Cluster.code, Cluster.res_start))
    return {code: month_of(start) if start else None for code, start in rows}


async def freshness_fields(session: AsyncSession) -> dict[str, Any]:
    latest, rebuilt = await freshness(session)
    return {
        "as_of": latest or datetime.now(UTC),
        "latest_record_at": latest,
        "recomputed_at": rebuilt,
    }


def _row(row: PrePostRow) -> dict[str, Any]:
    return {
        "cluster": row.cluster,
        "res_start": format_month(row.res_start),
        "pre_months": row.pre_months,
        "pre_count": row.pre_count,
        "pre_monthly_average": row.pre_monthly_average,
        "post_months": row.post_months,
        "post_count": row.post_count,
        "post_monthly_average": row.post_monthly_average,
        "difference": row.difference,
        **_rr(row.rate),
    }


def _publish_prepost(rows: list[dict[str, Any]], total: dict[str, Any]) -> None:
    """Suppress small counts and everything a hidden count could be recovered from."""
    summed = set(total["clusters_summed"])
    line = [r for r in rows if r["cluster"] in summed]  # the rows the total row adds up
    alone = [r for r in rows if r["cluster"] not in summed]
    any_hidden = False
    for side in ("pre", "post"):
        cells, shown_total = suppress_line([r[f"{side}_count"] for r in line], total=total[f"{side}_count"])
        cells += suppress_counts([r[f"{side}_count"] for r in alone])
        for r, cell in zip(line + alone, cells, strict=True):
            if cell == SUPPRESSED:
                r[f"{side}_count"] = r[f"{side}_monthly_average"] = r["difference"] = SUPPRESSED
                r["rate_ratio"] = r["rate_ratio_ci95"] = r["p_value"] = SUPPRESSED
        total[f"{side}_count"] = shown_total
        line_hidden = SUPPRESSED in cells[: len(line)] or shown_total == SUPPRESSED
        if line_hidden:
            # a sum of averages plus the count total can give two hidden counts away
            total[f"{side}_monthly_average"] = total["difference"] = SUPPRESSED
            total["as_printed"] = SUPPRESSED
        any_hidden = any_hidden or line_hidden
    if any_hidden:
        # The pooled ratio solves an equation in every cluster's counts: with the shown ones it
        # pins down the hidden ones.
        total["rate_ratio"] = total["rate_ratio_ci95"] = total["p_value"] = SUPPRESSED


def _table_out(
    counts: dict[tuple[str, date], int],
    starts: dict[str, date],
    first: date,
    last: date,
    disclosure: Disclosure,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    return _table_dicts(*pre_post_table(counts, starts, first, last), disclosure)


def _table_dicts(
    table: list[PrePostRow], total: PrePostTotal, disclosure: Disclosure
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows = [_row(r) for r in table]
    total_out: dict[str, Any] = {
        "cluster": "RES clusters with months before and after their start",
        "pre_count": total.pre_count,
        "pre_monthly_average": total.pre_monthly_average,
        "post_count": total.post_count,
        "post_monthly_average": total.post_monthly_average,
        "difference": total.difference,
        "as_printed": {
            "method": "sum of cluster averages each rounded half-up to 2 dp, as the report did",
            "pre_monthly_average": float(total.printed_pre_monthly_average),
            "post_monthly_average": float(total.printed_post_monthly_average),
            "difference": float(total.printed_difference),
        },
        **_rr(total.pooled.rate),
        "rate_ratio_method": POOLED_METHODS[total.pooled.method],
        "clusters_summed": list(total.clusters),
    }
    if disclosure == "published":
        _publish_prepost(rows, total_out)
    return rows, total_out


def published_totals_hidden(table: list[PrePostRow], total: PrePostTotal) -> dict[str, bool]:
    """Per side ("pre", "post"): does the published before/after table hide its summed average?"""
    _, published = _table_dicts(table, total, "published")
    return {side: published[f"{side}_monthly_average"] == SUPPRESSED for side in ("pre", "post")}


async def pre_post_report(
    session: AsyncSession, measure: str, first: date, last: date, disclosure: Disclosure
) -> dict[str, Any]:
    clusters = await clusters_with_starts(session)
    counts = await monthly_counts(session, measure, first, last)
    starts = {c: s for c, s in clusters.items() if s is not None}
    rows, total_out = _table_out(counts, starts, first, last, disclosure)
    comparison = _comparison(counts, clusters, first, last)
    withheld = None
    if (
        comparison is not None
        and disclosure == "published"
        and _comparison_discloses(counts, rows, total_out)
    ):
        comparison, withheld = None, COMPARISON_WITHHELD
    return {
        **await freshness_fields(session),
        "measure": measure,
        "from": format_month(first),
        "to": format_month(last),
        "disclosure": disclosure,
        "rows": rows,
        "total": total_out,
        "comparison_group": comparison,
        "comparison_group_withheld": withheld,
        "caveats": CAVEATS,
    }


COMPARISON_WITHHELD = (
    "The comparison-group estimate is fitted on every cluster's monthly counts; some of them are "
    "small (1-5) or hidden in this table, and with the counts that are published the estimate "
    "would let them be worked out. It is shown in the unsuppressed form to analysts."
)


def _comparison_discloses(
    counts: dict[tuple[str, date], int], rows: list[dict[str, Any]], total: dict[str, Any]
) -> bool:
    """Could the published comparison-group estimate give a hidden count away? It is one equation
    in all the cluster-month counts of the window, so yes whenever any of them is hidden anywhere:
    a small monthly count (hidden in the published series) or a count the table hides."""
    if any(1 <= n <= SMALL for n in counts.values()):
        return True
    cells = [r[k] for r in rows for k in ("pre_count", "post_count")] + [
        total["pre_count"],
        total["post_count"],
    ]
    return SUPPRESSED in cells


def _comparison(
    counts: dict[tuple[str, date], int], clusters: dict[str, date | None], first: date, last: date
) -> dict[str, Any] | None:
    with_data = {c for c, _ in counts}
    controls = sorted(c for c in with_data if c in clusters and clusters[c] is None)
    if not controls:
        return None
    included = sorted(c for c in with_data if c in clusters)
    months = list(month_range(first, last))
    est = fixed_effects_rate_ratio(counts, included, months, clusters)
    if est is None:
        return None
    return {
        "method": "Poisson regression with cluster and month fixed effects (quasi-Poisson "
        "interval), non-RES clusters as the comparison group, staggered RES starts",
        "rate_ratio": est.rate_ratio,
        "rate_ratio_ci95": list(est.ci95),
        "p_value": est.p_value,
        "dispersion": est.dispersion,
        "comparison_clusters": controls,
        "clusters": est.clusters,
        "months": est.months,
    }


async def known_cluster(session: AsyncSession, code: str) -> bool:
    """A cluster the service has heard of: from cluster events or from records counted for it."""
    found = await session.scalar(
        text(
            "SELECT EXISTS (SELECT 1 FROM metrics.clusters WHERE code = :c)"
            " OR EXISTS (SELECT 1 FROM metrics.monthly_counts WHERE cluster_code = :c)"
        ),
        {"c": code},
    )
    return bool(found)


_SIDE = {False: "pre_count", True: "post_count"}


@dataclass(frozen=True)
class ClusterSeries:
    months: list[date]
    counts: list[int]
    res_start: date | None
    # The periods (False: before RES, True: with RES) whose counts the published before/after
    # table hides for this window (asked for the published form only): a published series or
    # chart must not give them away.
    hidden_periods: frozenset[bool]


async def cluster_series(
    session: AsyncSession, cluster: str, measure: str, first: date, last: date, published: bool
) -> ClusterSeries:
    if not await known_cluster(session, cluster):
        raise not_found("cluster", cluster)
    counts = await monthly_counts(session, measure, first, last)
    months = list(month_range(first, last))
    starts = {c: s for c, s in (await clusters_with_starts(session)).items() if s is not None}
    start = starts.get(cluster)
    hidden: frozenset[bool] = frozenset()
    if published and start is not None:  # only the published form needs the table's view
        rows, _ = _table_out(counts, starts, first, last, "published")
        for row in (r for r in rows if r["cluster"] == cluster):
            hidden = frozenset(after for after in (False, True) if row[_SIDE[after]] == SUPPRESSED)
    return ClusterSeries(months, [counts.get((cluster, m), 0) for m in months], start, hidden)


def published_series(series: ClusterSeries) -> list[int | str | None]:
    """The series as published: small counts hidden, and every non-zero month of a period the
    before/after table hides; then partners for lone hidden months in the totals published
    elsewhere (the periods the table shows, and each calendar year)."""
    start = series.res_start
    forced = [
        (start is not None and m >= start) in series.hidden_periods and n > 0
        for m, n in zip(series.months, series.counts, strict=True)
    ]
    lines = published_lines(series.months, start, series.hidden_periods)
    return publish_series(series.counts, lines, forced)


def published_lines(
    months: Sequence[date], res_start: date | None, hidden_periods: frozenset[bool] = frozenset()
) -> list[list[int]]:
    """Runs of months whose totals other endpoints publish: the before/after-RES periods the
    pre-post table shows, and each calendar year (the rates)."""
    lines: dict[object, list[int]] = {}
    for i, m in enumerate(months):
        after = res_start is not None and m >= res_start
        if after not in hidden_periods:
            lines.setdefault(("res", after), []).append(i)
        lines.setdefault(("year", m.year), []).append(i)
    return list(lines.values())


def publish_series(
    values: Sequence[int], lines: Sequence[Sequence[int]] = (), forced: Sequence[bool] = ()
) -> list[int | str | None]:
    """Counts 1-5 (and ``forced`` months) hidden; then, in every line whose total is published
    elsewhere, a lone hidden month is joined by the next smallest one, so no month can be
    recovered by subtraction."""
    hidden = [1 <= v <= SMALL for v in values]
    for k, force in enumerate(forced):
        hidden[k] = hidden[k] or force
    changed = True
    while changed:
        changed = False
        for line in lines:
            if sum(hidden[k] for k in line) != 1 or sum(values[k] for k in line) <= SMALL:
                continue  # nothing to protect, or the total is itself hidden wherever it appears
            candidates = [k for k in line if not hidden[k] and values[k]]
            if candidates:
                hidden[min(candidates, key=lambda k: (values[k], k))] = True
                changed = True
    return [SUPPRESSED if h else v for v, h in zip(values, hidden, strict=True)]


RATE_BASIS = (
    "records dated in the calendar year (January to December) per 10,000 children aged 0-17 in "
    "the cluster's mid-year population estimate for that year, as set by analysts; rounded to "
    "1 dp for display, exact value alongside"
)


def round1(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


async def rates_report(
    session: AsyncSession, measure: str, year: int, disclosure: Disclosure
) -> dict[str, Any]:
    counts = await monthly_counts(session, measure, date(year, 1, 1), date(year, 12, 1))
    per_cluster: dict[str, int] = {}
    for (cluster, _), n in counts.items():
        per_cluster[cluster] = per_cluster.get(cluster, 0) + n
    pops = dict(
        (
            await session.execute(
                select(Population.cluster_code, Population.children_0_17).where(Population.year == year)
            )
        ).all()
    )
    names = sorted(set(per_cluster) | set(pops))
    values = [per_cluster.get(c, 0) for c in names]
    shown: list[int | str | None] = list(values)
    if disclosure == "published":
        shown = suppress_counts(values)
    rows = []
    for name, n, cell in zip(names, values, shown, strict=True):
        pop = pops.get(name)
        # exact, then rounded once: in floats 43 / 8000 * 10000 is 53.74999..., not 53.75
        rate = Decimal(n) * 10_000 / Decimal(pop) if pop else None
        hidden = cell == SUPPRESSED
        rows.append(
            {
                "cluster": name,
                "year": year,
                "count": cell,
                "children_0_17": pop,
                "rate_per_10000": SUPPRESSED if hidden else (None if rate is None else float(round1(rate))),
                "rate_per_10000_exact": SUPPRESSED if hidden else (None if rate is None else float(rate)),
                "note": None if pop else "no population set for this cluster and year",
            }
        )
    return {
        **await freshness_fields(session),
        "measure": measure,
        "year": year,
        "basis": RATE_BASIS,
        "disclosure": disclosure,
        "rows": rows,
    }


async def sustained_outcomes(
    session: AsyncSession, first: date, last: date, today: date, disclosure: Disclosure
) -> dict[str, Any]:
    """Share of families re-referred to RES within 12 months after their RES plan closed.

    Only plans whose 12 months of follow-up have passed by ``today`` are counted; the others are
    reported as still in follow-up.
    """
    follow_up_end = add_months(today, -12)
    result = await session.execute(
        text(
            """
            SELECT c.cluster_code,
                   count(*) FILTER (WHERE c.occurred_on <= :settled) AS settled,
                   count(*) FILTER (WHERE c.occurred_on <= :settled AND EXISTS (
                       SELECT 1 FROM metrics.service_records r
                       WHERE r.child_ref = c.child_ref
                         AND r.type LIKE 'res_%'  -- lets the partial index apply
                         AND r.type IN ('res_referral_received', 'res_referral_accepted')
                         AND r.occurred_on > c.occurred_on
                         AND r.occurred_on <= c.occurred_on + interval '12 months'
                   )) AS re_referred,
                   count(*) FILTER (WHERE c.occurred_on > :settled) AS in_follow_up
            FROM metrics.service_records c
            WHERE c.type = 'res_plan_closed'
              AND c.occurred_on >= :first AND c.occurred_on < :after_last
            GROUP BY c.cluster_code ORDER BY c.cluster_code
            """
        ),
        {"first": first, "after_last": add_months(last, 1), "settled": follow_up_end},
    )
    rows = [
        {"cluster": c, "plans_closed": s, "re_referred_within_12_months": r, "in_follow_up": f}
        for c, s, r, f in result
    ]
    total = {
        "plans_closed": sum(r["plans_closed"] for r in rows),
        "re_referred_within_12_months": sum(r["re_referred_within_12_months"] for r in rows),
        "in_follow_up": sum(r["in_follow_up"] for r in rows),
    }
    for r in (*rows, total):
        r["share_re_referred"] = (
            r["re_referred_within_12_months"] / r["plans_closed"] if r["plans_closed"] else None
        )
    if disclosure == "published":
        _publish_sustained(rows, total)
    return {
        **await freshness_fields(session),
        "from": format_month(first),
        "to": format_month(last),
        "follow_up_complete_for_plans_closed_by": follow_up_end,
        "disclosure": disclosure,
        "rows": rows,
        "total": total,
    }


def _publish_sustained(rows: list[dict[str, Any]], total: dict[str, Any]) -> None:
    """Plans settled and plans still in follow-up add up to the cluster's plans closed in the
    window, which the series and the before/after table publish: the two columns are one table
    with row and column totals. Re-referrals are a line of their own with their total."""
    split = ("plans_closed", "in_follow_up")
    if rows:
        table = suppress_table([[r[k] for k in split] for r in rows])
        for r, shown in zip((*rows, total), table, strict=True):
            for j, key in enumerate(split):
                r[key] = shown[j]
    key = "re_referred_within_12_months"
    cells, total[key] = suppress_line([r[key] for r in rows], total=total[key])
    for r, cell in zip(rows, cells, strict=True):
        r[key] = cell
    for r in (*rows, total):
        if SUPPRESSED in (r["plans_closed"], r[key]):
            r["share_re_referred"] = SUPPRESSED
