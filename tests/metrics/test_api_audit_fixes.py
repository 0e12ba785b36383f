"""Disclosure of the cost table and the series, freshness on every response, unknown clusters."""

from datetime import date
from decimal import Decimal

from defusedxml import ElementTree as ET

from services.metrics_worker.months import month_range
from services.metrics_worker.series.reports import publish_series, published_lines
from shared import clock
from tests.metrics.test_api_reports import WINDOW, _clusters, _post

CLA = "children_starting_to_be_looked_after"


async def test_cost_table_is_published_form_for_non_analysts(metrics_client, auth, backbone, deliver_events):
    start = "2018-07-01"
    await _clusters(backbone, deliver_events, {"A": start, "B": start})
    await _post(metrics_client, auth, {"A": (3, 40), "B": (30, 50)})  # A's 3 pre-RES starts are small
    full = await metrics_client.get("/v1/metrics/costs", params=WINDOW, headers=auth("analyst"))
    assert full.json()["disclosure"] == "unsuppressed"
    cla = next(x for x in full.json()["lines"] if x["line"] == CLA)
    assert Decimal(cla["monthly_volume_pre_res"]) == Decimal(33) / 6
    r = await metrics_client.get("/v1/metrics/costs", params=WINDOW, headers=auth("team_manager"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["disclosure"] == "published" and body["as_of"]
    cla = next(x for x in body["lines"] if x["line"] == CLA)
    # the summed averages minus B's published average would give A's 3 back: hidden, with its cost
    assert cla["monthly_volume_pre_res"] == "c" and cla["monthly_cost_pre_res"] == "c"
    assert Decimal(cla["monthly_volume_with_res"]) == Decimal(90) / 6
    assert body["total_pre_res"] == "c" and body["savings_per_month"] == "c"
    assert Decimal(body["total_with_res"]) == Decimal(cla["monthly_cost_with_res"])
    # lines without small counts (here: no records at all) stay visible
    contacts = next(x for x in body["lines"] if x["line"] == "contacts")
    assert contacts["monthly_cost_pre_res"] == "0.00"
    r = await metrics_client.get(
        "/v1/metrics/costs", params={**WINDOW, "disclosure": "unsuppressed"}, headers=auth("practitioner")
    )
    assert (r.status_code, r.json()["rule"]) == (403, "disclosure_requires_analyst")


async def test_cost_table_with_large_counts_is_the_same_published(
    metrics_client, auth, backbone, deliver_events
):
    await _clusters(backbone, deliver_events, {"A": "2018-07-01"})
    await _post(metrics_client, auth, {"A": (12, 6)})
    analyst = (await metrics_client.get("/v1/metrics/costs", params=WINDOW, headers=auth("analyst"))).json()
    published = (
        await metrics_client.get("/v1/metrics/costs", params=WINDOW, headers=auth("practitioner"))
    ).json()
    assert published["lines"] == analyst["lines"]
    assert published["savings_per_month"] == analyst["savings_per_month"] == "160602.00"


def test_a_lone_hidden_month_is_joined_by_the_next_smallest_of_its_period():
    months = list(month_range(date(2018, 1, 1), date(2018, 12, 1)))
    lines = published_lines(months, date(2018, 7, 1))
    pre = [3, 10, 8, 12, 9, 7]  # pre-RES total 49 is published by the table; 3 must not be derivable
    post = [10, 10, 10, 10, 10, 10]
    out = publish_series(pre + post, lines)
    assert out[:6] == ["c", 10, 8, 12, 9, "c"]  # 7, the next smallest, goes too
    assert out[6:] == post
    # without lines (nothing published alongside) only primary suppression applies
    assert publish_series(pre + post) == ["c", *pre[1:], *post]
    # a period whose total is itself small is hidden wherever it appears: nothing more to hide
    assert publish_series([2, 0, 0, 0, 0, 0, *post], lines)[:6] == ["c", 0, 0, 0, 0, 0]


async def test_published_series_cannot_be_differenced_against_the_table(
    metrics_client, auth, backbone, deliver_events
):
    await _clusters(backbone, deliver_events, {"A": "2018-07-01"})
    monthly = [3, 10, 8, 12, 9, 7, 10, 10, 10, 10, 10, 10]
    events = [
        {
            "type": "cla_start",
            "cluster": "A",
            "date": f"2018-{m + 1:02d}-05",
            "child_ref": f"c{m}-{k}",
            "source_id": f"s{m}-{k}",
        }
        for m, n in enumerate(monthly)
        for k in range(n)
    ]
    r = await metrics_client.post(
        "/v1/service-events", json={"events": events}, headers=auth("partner_system")
    )
    assert r.json()["accepted"] == sum(monthly)
    practitioner = auth("practitioner")
    table = await metrics_client.get(
        "/v1/metrics/pre-post", params={"measure": "cla_start", **WINDOW}, headers=practitioner
    )
    (row,) = table.json()["rows"]
    assert row["pre_count"] == 49  # published
    params = {"cluster": "A", "measure": "cla_start", **WINDOW}
    series = await metrics_client.get("/v1/metrics/series", params=params, headers=practitioner)
    counts = [m["count"] for m in series.json()["months"]]
    assert counts == ["c", 10, 8, 12, 9, "c", *monthly[6:]]  # 49 - 39 = 10 is two months, not one
    analyst = await metrics_client.get("/v1/metrics/series", params=params, headers=auth("analyst"))
    assert [m["count"] for m in analyst.json()["months"]] == monthly


async def test_as_of_on_catalogue_scenario_clusters_and_chart(metrics_client, auth, backbone, deliver_events):
    await _clusters(backbone, deliver_events, {"A": "2018-07-01"})
    await _post(metrics_client, auth, {"A": (12, 6)})
    for path in ("/v1/unit-costs", "/v1/clusters"):
        r = await metrics_client.get(path, headers=auth("analyst"))
        assert r.status_code == 200 and r.json()["as_of"], path
    r = await metrics_client.post(
        "/v1/metrics/costs/scenario",
        json={"pre_res": {"contacts": 10}, "with_res": {"contacts": 4}},
        headers=auth("team_manager"),
    )
    assert r.status_code == 200 and r.json()["as_of"]
    assert Decimal(r.json()["savings_per_month"]) == 6 * Decimal(83)
    r = await metrics_client.get(
        "/v1/metrics/series.svg",
        params={"cluster": "A", "measure": "cla_start", **WINDOW},
        headers=auth("analyst"),
    )
    stamp = r.headers["x-as-of"]
    svg = ET.fromstring(r.content)
    (text,) = [t for t in svg.iter("{http://www.w3.org/2000/svg}text") if t.get("class") == "as-of"]
    assert text.text.startswith("data as of " + stamp[:19])


async def test_unknown_clusters_are_404_not_an_empty_series(metrics_client, auth, backbone, deliver_events):
    await _clusters(backbone, deliver_events, {"A": "2018-07-01"})
    params = {"measure": "cla_start", **WINDOW}
    for path in ("/v1/metrics/series", "/v1/metrics/series.svg"):
        r = await metrics_client.get(path, params={**params, "cluster": "ZZ"}, headers=auth("analyst"))
        assert (r.status_code, r.headers["content-type"]) == (404, "application/problem+json"), path
        r = await metrics_client.get(path, params={**params, "cluster": "A"}, headers=auth("analyst"))
        assert r.status_code == 200, path
    body = {"year": 2018, "children_0_17": 5000}
    r = await metrics_client.put("/v1/clusters/ZZ/population", json=body, headers=auth("analyst"))
    assert (r.status_code, r.json()["rule"]) == (404, "not_found")
    # a cluster known only from partner records (no cluster event yet) is known too
    await metrics_client.post(
        "/v1/service-events",
        json={
            "events": [
                {"type": "contact", "cluster": "P", "date": "2018-03-01", "child_ref": "x", "source_id": "1"}
            ]
        },
        headers=auth("partner_system"),
    )
    r = await metrics_client.put("/v1/clusters/P/population", json=body, headers=auth("analyst"))
    assert r.status_code == 201, r.text


async def test_openapi_examples_are_valid_and_the_scenario_one_gives_the_report_savings(metrics_client, auth):
    spec = (await metrics_client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    (scenario,) = schemas["ScenarioIn"]["examples"]
    r = await metrics_client.post("/v1/metrics/costs/scenario", json=scenario, headers=auth("team_manager"))
    assert r.status_code == 200, r.text
    assert Decimal(r.json()["savings_per_month"]) == Decimal("406466.60")
    (events,) = schemas["ServiceEventsIn"]["examples"]
    r = await metrics_client.post("/v1/service-events", json=events, headers=auth("partner_system"))
    assert (r.status_code, r.json()["accepted"]) == (200, 1)
    # unknown fields are still refused after the schemas gained examples
    r = await metrics_client.post(
        "/v1/metrics/costs/scenario", json={**scenario, "surprise": 1}, headers=auth("team_manager")
    )
    assert (r.status_code, r.json()["field"]) == (422, "body.surprise")


async def test_rates_say_they_are_calendar_years_over_mid_year_estimates(
    metrics_client, auth, backbone, deliver_events
):
    await _clusters(backbone, deliver_events, {"A": "2018-07-01"})
    r = await metrics_client.get(
        "/v1/metrics/rates", params={"measure": "cla_start", "year": 2018}, headers=auth("analyst")
    )
    assert "calendar year" in r.json()["basis"] and "mid-year" in r.json()["basis"]


async def test_windows_reaching_into_the_future_are_refused(metrics_client, auth):
    this_month = clock.today().strftime("%Y-%m")
    future = f"{clock.today().year + 1}-01"
    for path, extra in (
        ("/v1/metrics/pre-post", {"measure": "cla_start"}),
        ("/v1/metrics/costs", {}),
        ("/v1/metrics/sustained-outcomes", {}),
    ):
        r = await metrics_client.get(
            path, params={**extra, "from": "2019-01", "to": future}, headers=auth("analyst")
        )
        assert (r.status_code, r.json()["field"], r.json()["rule"]) == (422, "query.to", "month_in_future"), (
            path
        )
        r = await metrics_client.get(
            path, params={**extra, "from": "2019-01", "to": this_month}, headers=auth("analyst")
        )
        assert r.status_code == 200, path
