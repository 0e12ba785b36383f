"""Unit costs, the Table 3 cost comparison from the series, and what-if scenarios."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Query
from pydantic import ConfigDict, Field, model_validator
from sqlalchemy import func, select

from services.metrics_worker.access import Analyst, DisclosureParam, Reader, disclosure_for
from services.metrics_worker.costing.models import UnitCostRow
from services.metrics_worker.costs import (
    LINE_NAMES,
    LINES,
    Catalogue,
    CostTable,
    UnitCost,
    builtin_catalogue,
    cost_table,
    money,
)
from services.metrics_worker.prepost import pre_post_table
from services.metrics_worker.series import reports
from services.metrics_worker.series.router import window
from services.metrics_worker.series.service import monthly_counts
from shared import audit
from shared.deps import DbSession
from shared.disclosure import SUPPRESSED
from shared.errors import conflict, not_found, unprocessable
from shared.http import APIRouter
from shared.schemas import RequestModel

router = APIRouter(tags=["costs"])
REQUIRED_CODES = ("contact_hour", "referral_hour", "cp_plan_year", "cla_episode")
Version = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]


async def load_catalogue(session: Any, version: str | None) -> Catalogue:
    """A stored version, or the latest stored one, or the built-in report edition."""
    builtin = builtin_catalogue()
    if version == builtin.version:
        return builtin
    if version is None:
        latest = await session.scalar(
            select(UnitCostRow.version).order_by(UnitCostRow.created_at.desc()).limit(1)
        )
        if latest is None:
            return builtin
        version = latest
    rows = (await session.execute(select(UnitCostRow).where(UnitCostRow.version == version))).scalars().all()
    if not rows:
        raise not_found("unit-cost catalogue version", version)
    costs = {
        r.code: UnitCost(r.code, r.amount, r.unit, r.source, r.edition, r.price_year, r.derivation)
        for r in rows
    }
    return Catalogue(version, costs)


def _catalogue_out(c: Catalogue) -> dict[str, Any]:
    return {
        "version": c.version,
        "costs": [
            {
                "code": u.code,
                "amount": u.amount,
                "unit": u.unit,
                "source": u.source,
                "edition": u.edition,
                "price_year": u.price_year,
                "derivation": u.derivation,
            }
            for u in c.costs.values()
        ],
    }


def _table_out(t: CostTable) -> dict[str, Any]:
    return {
        "catalogue_version": t.catalogue_version,
        "currency": "GBP",
        "lines": [
            {
                "line": c.line,
                "unit_cost_code": c.unit_cost_code,
                "unit_cost": c.unit_cost,
                "monthly_volume_pre_res": c.volume_pre_res,
                "monthly_volume_with_res": c.volume_with_res,
                "monthly_cost_pre_res": money(c.cost_pre_res),
                "monthly_cost_with_res": money(c.cost_with_res),
            }
            for c in t.lines
        ],
        # rounded half-up to pennies here, for display only: the sums were taken exactly
        "total_pre_res": money(t.total_pre_res),
        "total_with_res": money(t.total_with_res),
        "savings_per_month": money(t.savings_per_month),
    }


@router.get("/v1/unit-costs", summary="The unit-cost catalogue (latest version unless named)")
async def get_unit_costs(
    user: Reader,
    session: DbSession,
    version: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,40}$")] = None,
) -> dict[str, Any]:
    catalogue = await load_catalogue(session, version)
    stored = (
        await session.execute(
            select(UnitCostRow.version, func.min(UnitCostRow.created_at))
            .group_by(UnitCostRow.version)
            .order_by(func.min(UnitCostRow.created_at))
        )
    ).all()
    return {
        "as_of": datetime.now(UTC),
        **_catalogue_out(catalogue),
        "versions": [builtin_catalogue().version, *(v for v, _ in stored)],
    }


class UnitCostIn(RequestModel):
    code: str = Field(pattern=r"^(contact_hour|referral_hour|cp_plan_year|cla_episode)$")
    amount: Decimal = Field(gt=0, max_digits=14, decimal_places=2)
    unit: str = Field(min_length=1, max_length=40)
    source: str = Field(min_length=1, max_length=300)
    edition: str = Field(min_length=1, max_length=40)
    price_year: str = Field(min_length=4, max_length=20)
    derivation: str = Field(min_length=1, max_length=300)


class CatalogueIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": "2026.1",
                    "costs": [
                        {
                            "code": "contact_hour",
                            "amount": "88.00",
                            "unit": "per_hour",
                            "source": "Example council finance, unit costs 2026",
                            "edition": "2026",
                            "price_year": "2025-26",
                            "derivation": "referrer and responding social worker time",
                        },
                        {
                            "code": "referral_hour",
                            "amount": "168.00",
                            "unit": "per_hour",
                            "source": "Example council finance, unit costs 2026",
                            "edition": "2026",
                            "price_year": "2025-26",
                            "derivation": "social worker and team manager time",
                        },
                        {
                            "code": "cp_plan_year",
                            "amount": "15320.00",
                            "unit": "per_plan_year",
                            "source": "Example council finance, unit costs 2026",
                            "edition": "2026",
                            "price_year": "2025-26",
                            "derivation": "hours x occurrences per year x hourly rate",
                        },
                        {
                            "code": "cla_episode",
                            "amount": "171080.00",
                            "unit": "per_care_episode",
                            "source": "Example council finance, unit costs 2026",
                            "edition": "2026",
                            "price_year": "2025-26",
                            "derivation": "1130 a week x 52 weeks x 2.9 years average care episode",
                        },
                    ],
                }
            ]
        }
    )

    version: Version
    costs: list[UnitCostIn] = Field(min_length=len(REQUIRED_CODES))

    @model_validator(mode="after")
    def every_code_once(self) -> CatalogueIn:
        codes = sorted(c.code for c in self.costs)
        if codes != sorted(REQUIRED_CODES):
            raise ValueError(f"give each of {', '.join(REQUIRED_CODES)} exactly once")
        return self


@router.post("/v1/unit-costs", status_code=201, summary="Add a new unit-cost catalogue version")
async def post_unit_costs(user: Analyst, body: CatalogueIn, session: DbSession) -> dict[str, Any]:
    taken = body.version == builtin_catalogue().version or await session.scalar(
        select(func.count()).where(UnitCostRow.version == body.version)
    )
    if taken:
        raise conflict(
            "catalogue_version_exists",
            f"version {body.version} already exists",
            field="body.version",
        )
    for c in body.costs:
        session.add(UnitCostRow(version=body.version, created_by=user.sub, **c.model_dump()))
    await session.flush()
    await audit.record(session, user, "create", "unit_cost_catalogue", body.version)
    return {"as_of": datetime.now(UTC), **_catalogue_out(await load_catalogue(session, body.version))}


def _publish_costs(table: dict[str, Any], hidden: dict[str, set[str]]) -> None:
    for line in table["lines"]:
        for side, key in (("pre", "pre_res"), ("post", "with_res")):
            if line["line"] in hidden[side]:
                line[f"monthly_volume_{key}"] = line[f"monthly_cost_{key}"] = SUPPRESSED
    if hidden["pre"]:
        table["total_pre_res"] = SUPPRESSED
    if hidden["post"]:
        table["total_with_res"] = SUPPRESSED
    if hidden["pre"] or hidden["post"]:
        table["savings_per_month"] = SUPPRESSED


@router.get(
    "/v1/metrics/costs",
    summary="Table 3: monthly costs before RES and with RES from the series, and savings",
)
async def get_costs(
    user: Reader,
    session: DbSession,
    from_: Annotated[str, Query(alias="from", pattern=r"^\d{4}-\d{2}$", examples=["2015-04"])],
    to: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", examples=["2020-01"])],
    catalogue: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,40}$")] = None,
    disclosure: DisclosureParam = None,
) -> dict[str, Any]:
    first, last = window(from_, to)
    shown = disclosure_for(user, disclosure)
    cat = await load_catalogue(session, catalogue)
    starts = {c: s for c, s in (await reports.clusters_with_starts(session)).items() if s is not None}
    pre: dict[str, Decimal] = {}
    post: dict[str, Decimal] = {}
    hidden: dict[str, set[str]] = {"pre": set(), "post": set()}
    summed: set[str] = set()
    for line, measure, _code in LINES:
        counts = await monthly_counts(session, measure, first, last)
        prepost, total = pre_post_table(counts, starts, first, last)
        # volumes are the summed cluster monthly averages, as in the report's Table 3
        pre[line] = Decimal(repr(total.pre_monthly_average))
        post[line] = Decimal(repr(total.post_monthly_average))
        summed.update(total.clusters)
        if shown == "published":
            # a volume (and every money figure built from it) is hidden exactly when the
            # published before/after table hides that summed average
            for side, is_hidden in reports.published_totals_hidden(prepost, total).items():
                if is_hidden:
                    hidden[side].add(line)
    table = _table_out(cost_table(pre, post, cat))
    if shown == "published":
        _publish_costs(table, hidden)
    return {
        **await reports.freshness_fields(session),
        "from": from_,
        "to": to,
        "disclosure": shown,
        "res_clusters": sorted(starts),
        # a RES cluster without months on both sides of its start inside the window adds nothing
        "clusters_summed": sorted(summed),
        **table,
        "caveats": [
            "Costs avoided are estimated from before/after averages in the same clusters, "
            "without a comparison group, so they cannot be attributed to RES alone.",
            "Contacts and referrals are costed at one hour each.",
        ],
    }


Volume = Annotated[Decimal, Field(ge=0, le=10_000_000)]


class ScenarioIn(RequestModel):
    # Table 3's volumes (each printed cost over its unit cost): savings come to £406,466.60
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "pre_res": {
                        "contacts": "1158.1327710843375",
                        "referrals": "636.3255974842767",
                        "re_referrals_in_12_months": "175.92345911949687",
                        "child_subject_of_cp_plan": "38.8259902200489",
                        "children_starting_to_be_looked_after": "25.94652887261678",
                    },
                    "with_res": {
                        "contacts": "1324.085903614458",
                        "referrals": "609.8889937106918",
                        "re_referrals_in_12_months": "184.4651572327044",
                        "child_subject_of_cp_plan": "39.97019633992739",
                        "children_starting_to_be_looked_after": "23.25142688135889",
                    },
                    "catalogue": "2020.1",
                }
            ]
        }
    )

    pre_res: dict[str, Volume] = Field(description="monthly volume per line before RES")
    with_res: dict[str, Volume] = Field(description="monthly volume per line with RES")
    catalogue: Version | None = None

    @model_validator(mode="after")
    def known_lines(self) -> ScenarioIn:
        for side in (self.pre_res, self.with_res):
            unknown = sorted(set(side) - set(LINE_NAMES))
            if unknown:
                raise ValueError(f"unknown lines {unknown}; use {', '.join(LINE_NAMES)}")
        return self


@router.post("/v1/metrics/costs/scenario", summary="What-if: the Table 3 comparison for given volumes")
async def post_scenario(user: Reader, body: ScenarioIn, session: DbSession) -> dict[str, Any]:
    if not body.pre_res and not body.with_res:
        raise unprocessable("body.pre_res", "volumes_required", "give at least one monthly volume")
    cat = await load_catalogue(session, body.catalogue)
    # a what-if reads no records: as_of is when it was worked out
    return {"as_of": datetime.now(UTC), **_table_out(cost_table(body.pre_res, body.with_res, cat))}


__all__ = ["router"]
