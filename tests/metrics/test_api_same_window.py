"""Routes over the same window agree: the series and chart never give away a count the published
before/after table hides, and a mid-month RES start splits every output at the same month."""

from __future__ import annotations

import re

from tests.metrics.test_api_reports import _clusters

WIN = {"from": "2018-01", "to": "2018-12", "measure": "cla_start"}


def _events(cluster: str, month: int, n: int, tag: str) -> list[dict[str, str]]:
    return [
        {
            "type": "cla_start",
            "cluster": cluster,
            "date": f"2018-{month:02d}-05",
            "child_ref": f"{tag}-{cluster}-{month}-{k}",
            "source_id": f"{tag}-{cluster}-{month}-{k}",
        }
        for k in range(n)
    ]


async def _send(client, auth, events) -> None:
    r = await client.post("/v1/service-events", json={"events": events}, headers=auth("partner_system"))
    assert r.status_code == 200, r.text


async def _counts(client, headers, cluster: str) -> list[int | str]:
    r = await client.get("/v1/metrics/series", params={**WIN, "cluster": cluster}, headers=headers)
    assert r.status_code == 200, r.text
    return [m["count"] for m in r.json()["months"]]


async def test_the_series_and_chart_keep_the_tables_secondary_suppression(
    metrics_client, auth, backbone, deliver_events
):
    await _clusters(backbone, deliver_events, {c: "2018-07-01" for c in "ABCD"})
    events = _events("A", 1, 3, "pre")  # A's before-RES count is 3: hidden
    events += _events("B", 1, 3, "pre") + _events("B", 2, 4, "pre") + _events("B", 3, 5, "pre")  # 12
    events += _events("C", 1, 50, "pre") + _events("D", 1, 8, "pre")
    for cluster in "ABCD":
        for month in range(7, 13):
            events += _events(cluster, month, 10, "post")
    await _send(metrics_client, auth, events)
    worker = auth("practitioner")

    table = (await metrics_client.get("/v1/metrics/pre-post", params=WIN, headers=worker)).json()
    pre = {row["cluster"]: row["pre_count"] for row in table["rows"]}
    assert pre["A"] == "c" and pre["C"] == 50
    hidden = {c for c, n in pre.items() if n == "c"}
    assert len(hidden) >= 2  # A and its secondary partner(s)

    for cluster in sorted(hidden - {"A"}):
        # Neither the series nor the chart may give the hidden before-RES count back.
        months = await _counts(metrics_client, worker, cluster)
        assert all(n in (0, "c") for n in months[:6]), (cluster, months)
        r = await metrics_client.get(
            "/v1/metrics/series.svg", params={**WIN, "cluster": cluster}, headers=worker
        )
        assert r.status_code == 200
        assert not re.search(r"pre-average", r.text), cluster
        assert re.search(r"post-average", r.text), cluster  # the shown period keeps its average
        # A lone hidden month of a published year total gets a partner.
        assert sum(n == "c" for n in months) != 1, (cluster, months)
    # Shown cells stay shown, and an analyst sees everything.
    assert (await _counts(metrics_client, worker, "C"))[0] == 50
    analyst = await _counts(metrics_client, auth("analyst"), "B")
    assert analyst[:3] == [3, 4, 5]


async def test_a_mid_month_res_start_splits_every_output_at_its_month(
    metrics_client, auth, backbone, deliver_events
):
    monthly = [3, 10, 8, 12, 9, 20, 6, 10, 10, 10, 10, 10]
    events = [e for m, n in enumerate(monthly, start=1) for e in _events("A", m, n, "a")]
    events += [
        e
        for m, n in enumerate([7, 9, 8, 7, 9, 8, 7, 9, 8, 7, 9, 8], start=1)
        for e in _events("N", m, n, "n")
    ]
    await _send(metrics_client, auth, events)
    await _clusters(backbone, deliver_events, {"N": None})  # a comparison cluster without RES

    async def outputs(start: str) -> tuple[dict, list, float]:  # type: ignore[type-arg]
        await _clusters(backbone, deliver_events, {"A": start})
        worker = auth("practitioner")
        (row,) = (await metrics_client.get("/v1/metrics/pre-post", params=WIN, headers=worker)).json()["rows"]
        series = await _counts(metrics_client, worker, "A")
        analyst = (
            await metrics_client.get("/v1/metrics/pre-post", params=WIN, headers=auth("analyst"))
        ).json()
        return row, series, analyst["comparison_group"]["rate_ratio"]

    first_day = await outputs("2018-07-01")
    mid_month = await outputs("2018-07-15")
    assert mid_month == first_day
    row, series, _ = mid_month
    assert (row["res_start"], row["pre_months"], row["pre_count"]) == ("2018-07", 6, 62)
    # January (3) is hidden; it must not be the only hidden month before RES, or 62 gives it away.
    assert series[0] == "c" and sum(n == "c" for n in series[:6]) >= 2
