"""The evaluation report's printed tables (../shared/data) and records generated from them."""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from services.metrics_worker.months import add_months, month_range, parse_month

# A verbatim copy of ../shared/data (tests/test_report_data.py checks it still matches).
SHARED_DATA = Path(__file__).resolve().parents[1] / "data"
TABLES = {"cp_plan_start": "table_1_cp_plans", "cla_start": "table_2_cla_starts"}


@cache
def evaluation() -> dict[str, Any]:
    return json.loads((SHARED_DATA / "evaluation_tables.json").read_text())


def window() -> tuple[date, date]:
    w = evaluation()["window"]
    return parse_month(w["first_month"]), parse_month(w["last_month"])


def res_starts() -> dict[str, date]:
    starts = evaluation()["res_start_month_derived_from_pre_months"]
    return {c: parse_month(m) for c, m in starts.items()}


def printed_rows(measure: str) -> list[list[Any]]:
    return evaluation()[TABLES[measure]]["rows"]


def printed_total(measure: str) -> list[Any]:
    return evaluation()[TABLES[measure]]["total"]


def spread(count: int, months: list[date]) -> list[int]:
    """Split a period's count over its months, unevenly but deterministically (some months zero)."""
    out = [0] * len(months)
    for i in range(count):
        # a quadratic walk so consecutive records land in different months and some stay empty
        out[(i * i + 3 * i) % len(months)] += 1
    return out


def monthly_counts(measure: str) -> dict[tuple[str, date], int]:
    """Counts per (cluster, month) that reproduce the printed pre/post totals of the table."""
    first, last = window()
    starts = res_starts()
    counts: dict[tuple[str, date], int] = {}
    for cluster, _pm, pre, _pa, _qm, post, _qa, _d in printed_rows(measure):
        start = starts[cluster]
        pre_months = list(month_range(first, add_months(start, -1)))
        post_months = list(month_range(start, last))
        for months, total in ((pre_months, pre), (post_months, post)):
            for month, n in zip(months, spread(total, months), strict=True):
                if n:
                    counts[(cluster, month)] = n
    return counts


def record_days(measure: str) -> list[tuple[str, date]]:
    """One (cluster, day) per record, days varied within each month."""
    out = []
    for (cluster, month), n in sorted(monthly_counts(measure).items()):
        out.extend((cluster, month.replace(day=1 + (k * 7) % 28)) for k in range(n))
    return out
