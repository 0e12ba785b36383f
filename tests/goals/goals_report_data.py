"""The report's printed figures (shared/data/evaluation_tables.json) for the goals tests."""

from __future__ import annotations

import json
from functools import cache
from itertools import product
from pathlib import Path
from typing import Any

from services.goals_api.vocab import ACTIVITY_LABELS, ActivityCategory

# A verbatim copy of ../shared/data/evaluation_tables.json (tests/test_report_data.py keeps it so).
_TABLES = Path(__file__).resolve().parents[1] / "data" / "evaluation_tables.json"


@cache
def tables() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_TABLES.read_text("utf-8"))
    return data


def table_4() -> list[dict[str, Any]]:
    t = tables()["table_4_activities_by_goal_progress"]
    return [dict(zip(t["columns"], row, strict=True)) for row in t["rows"]]


def activity_code(label: str) -> ActivityCategory:
    by_label = {v: k for k, v in ACTIVITY_LABELS.items()}
    return by_label[label]


def smallest_counts(percents: dict[str, int], *, max_total: int = 400) -> dict[str, int]:
    """The smallest whole counts whose shares round (half up) to the printed percentages.

    Printed shares are rounded, so they may not add to 100; this searches the smallest total
    for which some split reproduces every printed figure.
    """
    from services.goals_api.reports.aggregate import percent

    keys = list(percents)
    for total in range(1, max_total + 1):
        options = [[n for n in range(0, total + 1) if percent(n, total) == percents[k]] for k in keys]
        if any(not o for o in options):
            continue
        for combo in product(*options):
            if sum(combo) == total:
                return dict(zip(keys, combo, strict=True))
    raise ValueError("no split reproduces the printed percentages")
