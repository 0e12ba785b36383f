"""The total row, the pooled ratio and the comparison-group estimate on awkward windows: clusters
seen on one side of their start only, estimates the data cannot identify, and the published form."""

from decimal import Decimal

import pytest

from tests.metrics.test_api_reports import _clusters


def _events(cluster, year, month, n, tag="e"):
    return [
        {
            "type": "cla_start",
            "cluster": cluster,
            "date": f"{year}-{month:02d}-05",
            "child_ref": f"{tag}-{cluster}-{year}-{month}-{k}",
            "source_id": f"{tag}-{cluster}-{year}-{month}-{k}",
        }
        for k in range(n)
    ]


async def _send(client, auth, events):
    for i in range(0, len(events), 1000):
        r = await client.post(
            "/v1/service-events", json={"events": events[i : i + 1000]}, headers=auth("partner_system")
        )
        assert r.status_code == 200, r.text


async def test_a_cluster_seen_on_one_side_only_adds_nothing_to_the_total_or_the_savings(
    metrics_client, auth, backbone, deliver_events
):
    # 8 a month in both clusters all through 2017; B only starts RES in 2019
    await _clusters(backbone, deliver_events, {"A": "2017-07-01", "B": "2019-01-01"})
    await _send(metrics_client, auth, [e for c in "AB" for m in range(1, 13) for e in _events(c, 2017, m, 8)])
    window = {"from": "2017-01", "to": "2017-12"}
    r = await metrics_client.get(
        "/v1/metrics/pre-post", params={**window, "measure": "cla_start"}, headers=auth("analyst")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    rows = {row["cluster"]: row for row in body["rows"]}
    assert rows["B"]["post_months"] == 0 and rows["B"]["post_monthly_average"] is None
    total = body["total"]
    assert total["clusters_summed"] == ["A"]
    assert total["pre_monthly_average"] == total["post_monthly_average"] == 8.0
    assert total["difference"] == 0.0
    assert total["pre_count"] == 48 and total["post_count"] == 48  # A's alone
    assert total["rate_ratio"] == pytest.approx(1.0)
    r = await metrics_client.get("/v1/metrics/costs", params=window, headers=auth("team_manager"))
    assert r.status_code == 200, r.text
    costs = r.json()
    assert costs["clusters_summed"] == ["A"]
    assert Decimal(costs["savings_per_month"]) == 0
    assert Decimal(costs["total_pre_res"]) == Decimal(costs["total_with_res"]) > 0


async def test_the_pooled_ratio_compares_each_cluster_with_itself(
    metrics_client, auth, backbone, deliver_events
):
    # A: 10 a month, RES from mid-2016; B: 1 a month, RES from mid-2019. Neither changes, but
    # summed counts over summed months would show a fourfold rise (A dominates the later months).
    await _clusters(backbone, deliver_events, {"A": "2016-07-01", "B": "2019-07-01"})
    events = [
        e
        for year in range(2016, 2020)
        for month in range(1, 13)
        for e in _events("A", year, month, 10) + _events("B", year, month, 1)
    ]
    await _send(metrics_client, auth, events)
    r = await metrics_client.get(
        "/v1/metrics/pre-post",
        params={"from": "2016-01", "to": "2019-12", "measure": "cla_start"},
        headers=auth("analyst"),
    )
    total = r.json()["total"]
    assert total["rate_ratio"] == pytest.approx(1.0, abs=1e-9)
    low, high = total["rate_ratio_ci95"]
    assert low < 1 < high
    assert total["p_value"] == pytest.approx(1.0)
    assert total["rate_ratio_method"].startswith("exact conditional")


async def test_a_comparison_the_data_cannot_identify_is_null_not_an_error(
    metrics_client, auth, backbone, deliver_events
):
    # A has no events after its start in the window: the fitted ratio would run off to zero
    await _clusters(backbone, deliver_events, {"A": "2018-03-01", "N": None})
    events = _events("A", 2018, 1, 2) + _events("A", 2018, 2, 3)
    events += _events("N", 2018, 1, 1) + _events("N", 2018, 2, 2) + _events("N", 2018, 3, 4)
    await _send(metrics_client, auth, events)
    r = await metrics_client.get(
        "/v1/metrics/pre-post",
        params={"from": "2018-01", "to": "2018-03", "measure": "cla_start"},
        headers=auth("analyst"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["comparison_group"] is None


async def test_the_published_form_withholds_a_comparison_that_would_reveal_a_hidden_count(
    metrics_client, auth, backbone, deliver_events
):
    # A's 3 starts before RES are hidden; with N's published months and A's post count, the
    # fitted ratio would give them back (20 / ratio * 10 / 10 = 3)
    await _clusters(backbone, deliver_events, {"A": "2018-02-01", "N": None})
    events = _events("A", 2018, 1, 3) + _events("A", 2018, 2, 20)
    events += _events("N", 2018, 1, 10) + _events("N", 2018, 2, 10)
    await _send(metrics_client, auth, events)
    params = {"from": "2018-01", "to": "2018-02", "measure": "cla_start"}
    analyst = (
        await metrics_client.get("/v1/metrics/pre-post", params=params, headers=auth("analyst"))
    ).json()
    assert analyst["comparison_group"]["rate_ratio"] == pytest.approx(20 / 3, rel=1e-6)
    assert analyst["comparison_group_withheld"] is None
    published = (
        await metrics_client.get("/v1/metrics/pre-post", params=params, headers=auth("practitioner"))
    ).json()
    assert published["disclosure"] == "published"
    assert published["rows"][0]["pre_count"] == "c"
    assert published["comparison_group"] is None
    assert "small" in published["comparison_group_withheld"]


async def test_the_published_form_shows_a_comparison_fitted_on_large_counts_only(
    metrics_client, auth, backbone, deliver_events
):
    await _clusters(backbone, deliver_events, {"A": "2018-03-01", "N": None})
    events = [e for m, n in ((1, 20), (2, 22), (3, 10), (4, 11)) for e in _events("A", 2018, m, n)]
    events += [e for m in range(1, 5) for e in _events("N", 2018, m, 15)]
    await _send(metrics_client, auth, events)
    params = {"from": "2018-01", "to": "2018-04", "measure": "cla_start"}
    published = (
        await metrics_client.get("/v1/metrics/pre-post", params=params, headers=auth("practitioner"))
    ).json()
    assert published["comparison_group_withheld"] is None
    assert published["comparison_group"]["rate_ratio"] < 1


async def test_rates_are_rounded_half_up_from_the_exact_value(metrics_client, auth, backbone, deliver_events):
    await _clusters(backbone, deliver_events, {"A": "2018-03-01"})
    r = await metrics_client.put(
        "/v1/clusters/A/population", json={"year": 2018, "children_0_17": 8000}, headers=auth("analyst")
    )
    assert r.status_code in (200, 201), r.text
    await _send(
        metrics_client, auth, [e for m in range(1, 12) for e in _events("A", 2018, m, 4 if m > 1 else 3)]
    )
    r = await metrics_client.get(
        "/v1/metrics/rates", params={"measure": "cla_start", "year": 2018}, headers=auth("analyst")
    )
    (row,) = r.json()["rows"]
    assert row["count"] == 43
    assert row["rate_per_10000"] == 53.8  # 43 / 8000 * 10000 = 53.75 exactly; floats give 53.7499...
    assert row["rate_per_10000_exact"] == 53.75
