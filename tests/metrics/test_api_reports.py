"""Disclosure control, costs, rates and the chart over the API."""

import json
from decimal import Decimal

from defusedxml import ElementTree as ET

from shared.outbox import emit
from tests.metrics import report_data as rd

WINDOW = {"from": "2018-01", "to": "2018-12"}


async def _clusters(backbone, deliver_events, starts):
    async with backbone.sessionmakers["formulation"]() as session, session.begin():
        for code, start in starts.items():
            await emit(
                session,
                "cluster.upserted",
                subject_id=code,
                payload={"cluster_code": code, "res_start": start, "co_located": True},
            )
    await deliver_events()


async def _post(client, auth, spec):
    """spec: {cluster: (pre_count, post_count)} around a July 2018 start, as CLA starts."""
    events = []
    for cluster, (pre, post) in spec.items():
        for k in range(pre):
            events.append((f"2018-{1 + k % 6:02d}-10", cluster, k, "pre"))
        for k in range(post):
            events.append((f"2018-{7 + k % 6:02d}-10", cluster, k, "post"))
    body = {
        "events": [
            {
                "type": "cla_start",
                "cluster": c,
                "date": d,
                "child_ref": f"{c}-{s}-{k}",
                "source_id": f"{c}-{s}-{k}",
            }
            for d, c, k, s in events
        ]
    }
    r = await client.post("/v1/service-events", json=body, headers=auth("partner_system"))
    assert r.status_code == 200, r.text


async def test_published_table_hides_small_counts_and_what_reveals_them(
    metrics_client, auth, backbone, deliver_events
):
    start = "2018-07-01"
    await _clusters(backbone, deliver_events, {"A": start, "B": start, "C": start})
    await _post(metrics_client, auth, {"A": (3, 40), "B": (30, 50), "C": (20, 9)})
    params = {"measure": "cla_start", **WINDOW}
    full = (await metrics_client.get("/v1/metrics/pre-post", params=params, headers=auth("analyst"))).json()
    assert [r["pre_count"] for r in full["rows"]] == [3, 30, 20]
    r = await metrics_client.get("/v1/metrics/pre-post", params=params, headers=auth("practitioner"))
    assert r.status_code == 200
    body = r.json()
    assert body["disclosure"] == "published"
    a, b, c = body["rows"]
    assert a["pre_count"] == "c" and a["pre_monthly_average"] == "c" and a["rate_ratio"] == "c"
    assert c["pre_count"] == "c"  # secondary: next smallest in the column, so 3 cannot be derived
    assert b["pre_count"] == 30 and b["pre_monthly_average"] == 5.0
    assert [x["post_count"] for x in body["rows"]] == [40, 50, 9]
    assert body["total"]["pre_count"] == 53  # the total is shown; two hidden cells protect it
    assert body["total"]["pre_monthly_average"] == "c"
    assert body["total"]["post_monthly_average"] == 99 / 6
    # analysts can ask for the published form too
    r = await metrics_client.get(
        "/v1/metrics/pre-post", params={**params, "disclosure": "published"}, headers=auth("analyst")
    )
    assert r.json()["rows"] == body["rows"]


async def test_comparison_group_estimate_appears_when_non_res_clusters_have_data(
    metrics_client, auth, backbone, deliver_events
):
    await _clusters(backbone, deliver_events, {"A": "2018-07-01", "N": None})
    await _post(metrics_client, auth, {"A": (60, 30), "N": (60, 60)})
    r = await metrics_client.get(
        "/v1/metrics/pre-post", params={"measure": "cla_start", **WINDOW}, headers=auth("analyst")
    )
    comparison = r.json()["comparison_group"]
    assert comparison["comparison_clusters"] == ["N"]
    low, high = comparison["rate_ratio_ci95"]
    assert low < comparison["rate_ratio"] < high < 1  # a clear drop against the comparison cluster
    assert abs(comparison["rate_ratio"] - 0.5) < 0.05  # A halves while N stays level


async def test_unit_costs_are_derived_and_the_scenario_gives_the_report_savings(metrics_client, auth):
    r = await metrics_client.get("/v1/unit-costs", headers=auth("team_manager"))
    assert r.status_code == 200
    costs = {c["code"]: c for c in r.json()["costs"]}
    assert Decimal(costs["cp_plan_year"]["amount"]) == Decimal("13497")
    assert Decimal(costs["cla_episode"]["amount"]) == Decimal("160602")
    assert "1065" in costs["cla_episode"]["derivation"]
    assert r.json()["version"] == "2020.1"
    implied = rd.evaluation()["table_3_monthly_costs_gbp"]["implied_monthly_volumes_derived"]
    body = {"pre_res": implied["cluster_pre_res"], "with_res": implied["cluster_with_res"]}
    r = await metrics_client.post(
        "/v1/metrics/costs/scenario",
        content=json.dumps(body),
        headers={**auth("analyst"), "content-type": "application/json"},
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert Decimal(out["savings_per_month"]) == Decimal("406466.60")
    assert Decimal(out["total_pre_res"]) == Decimal("4916371.44")
    assert out["catalogue_version"] == "2020.1"
    # Pennies only for display: three lines under half a penny each still total a penny.
    tiny = {"contacts": "0.00006", "referrals": "0.00003", "child_subject_of_cp_plan": "0.0000003"}
    r = await metrics_client.post(
        "/v1/metrics/costs/scenario", headers=auth("analyst"), json={"pre_res": tiny, "with_res": {}}
    )
    assert r.status_code == 200, r.text
    assert {line["monthly_cost_pre_res"] for line in r.json()["lines"]} == {"0.00"}
    assert r.json()["total_pre_res"] == r.json()["savings_per_month"] == "0.01"
    r = await metrics_client.post(
        "/v1/metrics/costs/scenario",
        headers=auth("analyst"),
        json={"pre_res": {"adoptions": 3}, "with_res": {}},
    )
    assert r.status_code == 422
    assert r.json()["field"] == "body"


async def test_cost_table_from_the_series_and_a_new_catalogue_version(
    metrics_client, auth, backbone, deliver_events
):
    await _clusters(backbone, deliver_events, {"A": "2018-07-01"})
    await _post(metrics_client, auth, {"A": (12, 6)})
    r = await metrics_client.get("/v1/metrics/costs", params=WINDOW, headers=auth("analyst"))
    assert r.status_code == 200, r.text
    cla = next(x for x in r.json()["lines"] if x["line"] == "children_starting_to_be_looked_after")
    assert Decimal(cla["monthly_cost_pre_res"]) == 2 * Decimal("160602")
    assert Decimal(cla["monthly_cost_with_res"]) == 1 * Decimal("160602")
    assert Decimal(r.json()["savings_per_month"]) == Decimal("160602.00")
    new = {
        "version": "2021.1",
        "costs": [
            {
                "code": code,
                "amount": amount,
                "unit": "u",
                "source": "LA costing 2021",
                "edition": "2021",
                "price_year": "2020-21",
                "derivation": "given",
            }
            for code, amount in (
                ("contact_hour", "90"),
                ("referral_hour", "170"),
                ("cp_plan_year", "14000"),
                ("cla_episode", "170000.50"),
            )
        ],
    }
    r = await metrics_client.post("/v1/unit-costs", json=new, headers=auth("practitioner"))
    assert r.status_code == 403
    r = await metrics_client.post("/v1/unit-costs", json=new, headers=auth("analyst"))
    assert r.status_code == 201, r.text
    r = await metrics_client.post("/v1/unit-costs", json=new, headers=auth("analyst"))
    assert (r.status_code, r.json()["rule"]) == (409, "catalogue_version_exists")
    r = await metrics_client.get("/v1/metrics/costs", params=WINDOW, headers=auth("analyst"))
    assert r.json()["catalogue_version"] == "2021.1"
    assert Decimal(r.json()["savings_per_month"]) == Decimal("170000.50")
    r = await metrics_client.get(
        "/v1/metrics/costs", params={**WINDOW, "catalogue": "2020.1"}, headers=auth("analyst")
    )
    assert Decimal(r.json()["savings_per_month"]) == Decimal("160602.00")
    r = await metrics_client.get("/v1/unit-costs", headers=auth("analyst"))
    assert r.json()["versions"] == ["2020.1", "2021.1"]
    missing = {**new, "version": "2022.1", "costs": new["costs"][:3]}
    r = await metrics_client.post("/v1/unit-costs", json=missing, headers=auth("analyst"))
    assert r.status_code == 422


async def test_population_and_rates_per_10000(metrics_client, auth, backbone, deliver_events):
    await _clusters(backbone, deliver_events, {"A": "2018-07-01"})
    await _post(metrics_client, auth, {"A": (12, 7)})
    r = await metrics_client.put(
        "/v1/clusters/A/population", json={"year": 2018, "children_0_17": 6000}, headers=auth("analyst")
    )
    assert r.status_code == 201
    r = await metrics_client.put(
        "/v1/clusters/A/population", json={"year": 2018, "children_0_17": 5977}, headers=auth("analyst")
    )
    assert r.status_code == 200
    r = await metrics_client.put(
        "/v1/clusters/A/population", json={"year": 2018, "children_0_17": -1}, headers=auth("analyst")
    )
    assert (r.status_code, r.json()["field"]) == (422, "body.children_0_17")
    r = await metrics_client.put(
        "/v1/clusters/A/population", json={"year": 2018, "children_0_17": 1}, headers=auth("practitioner")
    )
    assert r.status_code == 403
    r = await metrics_client.get(
        "/v1/metrics/rates", params={"measure": "cla_start", "year": 2018}, headers=auth("analyst")
    )
    (row,) = r.json()["rows"]
    assert row["count"] == 19
    assert row["rate_per_10000"] == 31.8  # 19 / 5977 * 10000 = 31.79...
    assert row["rate_per_10000_exact"] == float(Decimal(19) * 10000 / Decimal(5977))


async def test_series_chart_is_svg_with_res_start(metrics_client, auth, backbone, deliver_events):
    await _clusters(backbone, deliver_events, {"A": "2018-07-01"})
    await _post(metrics_client, auth, {"A": (12, 4)})
    params = {"cluster": "A", "measure": "cla_start", **WINDOW}
    r = await metrics_client.get("/v1/metrics/series.svg", params=params, headers=auth("analyst"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(r.content)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.find(f"{ns}line[@class='res-start']") is not None
    assert root.find(f"{ns}line[@class='pre-average']") is not None
    assert len(root.find(f"{ns}polyline").get("points").split()) == 12
    # published: every month here holds 0-2 records, so no month with records is drawn, and the
    # post-RES average (4 records in all) is hidden; the pre-RES average (12) is not
    r = await metrics_client.get("/v1/metrics/series.svg", params=params, headers=auth("practitioner"))
    root = ET.fromstring(r.content)
    drawn = [p for line in root.iter(f"{ns}polyline") for p in line.get("points").split()]
    assert len(drawn) == 2  # the two empty post-RES months (zeros are never suppressed)
    assert root.find(f"{ns}line[@class='post-average']") is None
    assert root.find(f"{ns}line[@class='pre-average']") is not None


async def test_a_population_is_a_json_integer(metrics_client, auth, backbone, deliver_events):
    await _clusters(backbone, deliver_events, {"A": "2018-03-01"})
    for body in (
        {"year": 2019, "children_0_17": True},
        {"year": 2019, "children_0_17": "5977"},
        {"year": "2019", "children_0_17": 5977},
        {"year": 2019, "children_0_17": 12.0},
    ):
        r = await metrics_client.put("/v1/clusters/A/population", json=body, headers=auth("analyst"))
        assert r.status_code == 422, (body, r.text)
