"""Unit-cost catalogue and the Table 3 cost comparison. All money is Decimal, rounded half-up to
pennies per line, as the report prints it."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources

PENNY = Decimal("0.01")
BREAKDOWN_FILE = "cp_plan_unit_cost_breakdown.csv"


def money(value: Decimal) -> Decimal:
    return value.quantize(PENNY, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class UnitCost:
    code: str
    amount: Decimal
    unit: str
    source: str
    edition: str
    price_year: str
    derivation: str


@dataclass(frozen=True)
class Catalogue:
    version: str
    costs: dict[str, UnitCost]

    def amount(self, code: str) -> Decimal:
        return self.costs[code].amount


def cp_plan_cost_from_breakdown(rows: list[dict[str, str]]) -> Decimal:
    """Annual cost of one CP plan: sum of hours x occurrences a year x hourly rate (Appendix 6)."""
    return sum(
        (
            Decimal(r["hours"]) * Decimal(r["occurrences_per_year"]) * Decimal(r["hourly_rate_gbp"])
            for r in rows
        ),
        Decimal(0),
    )


def load_breakdown() -> list[dict[str, str]]:
    # Shipped inside the package: the service must not read ../shared at run time.
    text = resources.files("services.metrics_worker.data").joinpath(BREAKDOWN_FILE).read_text()
    return list(csv.DictReader(text.splitlines()))


def cla_episode_cost(weekly: Decimal, years: Decimal) -> Decimal:
    """Cost of an average care episode: weekly outturn x 52 weeks x average years in care."""
    return weekly * 52 * years


REPORT = "Leeds Partners in Practice evaluation, April 2020"


def builtin_catalogue() -> Catalogue:
    """Version 2020.1: the unit costs of the evaluation report, derived from their inputs."""
    weekly, years = Decimal("1065"), Decimal("2.9")
    cp_plan = money(cp_plan_cost_from_breakdown(load_breakdown()))
    costs = [
        UnitCost(
            "contact_hour",
            Decimal("83"),
            "per_hour",
            REPORT + ", section 3.2",
            "2020",
            "2018-19",
            "referrer and responding social worker time",
        ),
        UnitCost(
            "referral_hour",
            Decimal("159"),
            "per_hour",
            REPORT + ", section 3.2",
            "2020",
            "2018-19",
            "social worker and team manager time",
        ),
        UnitCost(
            "cp_plan_year",
            cp_plan,
            "per_plan_year",
            REPORT + ", Appendix 6",
            "2020",
            "2018-19",
            "sum of hours x occurrences per year x hourly rate over " + BREAKDOWN_FILE,
        ),
        UnitCost(
            "cla_episode",
            money(cla_episode_cost(weekly, years)),
            "per_care_episode",
            "DfE LAIT weekly outturn per looked after child; " + REPORT,
            "2020",
            "2018-19",
            f"{weekly} a week x 52 weeks x {years} years average care episode",
        ),
    ]
    return Catalogue("2020.1", {c.code: c for c in costs})


# Table 3 lines: (line, measure whose monthly average is the volume, unit cost code).
LINES: tuple[tuple[str, str, str], ...] = (
    ("contacts", "contact", "contact_hour"),
    ("referrals", "referral", "referral_hour"),
    ("re_referrals_in_12_months", "re_referral", "referral_hour"),
    ("child_subject_of_cp_plan", "cp_plan_start", "cp_plan_year"),
    ("children_starting_to_be_looked_after", "cla_start", "cla_episode"),
)
LINE_NAMES = tuple(line for line, _, _ in LINES)


@dataclass(frozen=True)
class CostLine:
    line: str
    unit_cost_code: str
    unit_cost: Decimal
    volume_pre_res: Decimal
    volume_with_res: Decimal
    cost_pre_res: Decimal
    cost_with_res: Decimal


@dataclass(frozen=True)
class CostTable:
    catalogue_version: str
    lines: list[CostLine]
    total_pre_res: Decimal
    total_with_res: Decimal
    savings_per_month: Decimal


def cost_table(pre: Mapping[str, Decimal], post: Mapping[str, Decimal], catalogue: Catalogue) -> CostTable:
    """Monthly cost per line = monthly volume x unit cost; savings = pre-RES total - with-RES total.

    ``pre``/``post`` map line names to monthly volumes (contacts and referrals in hours); a missing
    line is a zero volume. Every figure is exact: round with :func:`money` only to display it, so
    totals and savings are not sums of rounded pennies.
    """
    lines = []
    for line, _measure, code in LINES:
        unit = catalogue.amount(code)
        v_pre, v_post = pre.get(line, Decimal(0)), post.get(line, Decimal(0))
        lines.append(CostLine(line, code, unit, v_pre, v_post, v_pre * unit, v_post * unit))
    total_pre = sum((c.cost_pre_res for c in lines), Decimal(0))
    total_post = sum((c.cost_with_res for c in lines), Decimal(0))
    return CostTable(catalogue.version, lines, total_pre, total_post, total_pre - total_post)
