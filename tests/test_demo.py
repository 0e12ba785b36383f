"""`rethink dev --demo` data: through the real APIs, reproducing Tables 1 and 2, idempotent."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from shared.demo import REPORT_COUNTS, RES_STARTS, load_demo_async

TABLES = json.loads((Path(__file__).parent / "data" / "evaluation_tables.json").read_text())


def test_demo_counts_are_the_report_tables() -> None:
    for measure, key in (("cp_plan_start", "table_1_cp_plans"), ("cla_start", "table_2_cla_starts")):
        printed = {r[0].replace(" ", "-"): (r[2], r[5]) for r in TABLES[key]["rows"]}
        assert REPORT_COUNTS[measure] == printed
    derived = TABLES["res_start_month_derived_from_pre_months"]
    assert {c: d.strftime("%Y-%m") for c, d in RES_STARTS.items()} == {
        c.replace(" ", "-"): m for c, m in derived.items()
    }


@pytest.mark.backbone
async def test_demo_loads_tables_and_families_once(servers, metrics_client, auth, backbone):
    overrides = {
        "database_url": servers.database_url,
        "redis_url": servers.redis_url,
        "queue_prefix": servers.queue_prefix,
        "jwt_secret": "demo-test-secret-" + "y" * 32,
    }
    first = await load_demo_async(**overrides)
    assert "2 new families" in first
    second = await load_demo_async(**overrides)
    assert "0 new service records" in second and "0 new families" in second
    for measure, key in (("cp_plan_start", "table_1_cp_plans"), ("cla_start", "table_2_cla_starts")):
        r = await metrics_client.get(
            "/v1/metrics/pre-post",
            headers=auth("analyst"),
            params={"measure": measure, "from": "2015-04", "to": "2020-01"},
        )
        assert r.status_code == 200, r.text
        rows = {row["cluster"]: row for row in r.json()["rows"]}
        for cluster, pm, _pre, pa, qm, _post, qa, _diff in TABLES[key]["rows"]:
            row = rows[cluster.replace(" ", "-")]
            assert (row["pre_months"], row["post_months"]) == (pm, qm)
            assert abs(row["pre_monthly_average"] - pa) <= 0.01 + 1e-9
            assert abs(row["post_monthly_average"] - qa) <= 0.01 + 1e-9
    async with backbone.engines["goals"].connect() as conn:
        assert await conn.scalar(text("select count(*) from goals.plans")) == 2
        assert await conn.scalar(text("select count(*) from goals.scores")) == 4
    await asyncio.sleep(0)
