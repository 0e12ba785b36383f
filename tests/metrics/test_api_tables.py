"""Tables 1 and 2 of the report reproduced from raw records: by API and through both importers."""

from tests.metrics import report_data as rd
from tests.metrics.api_helpers import (
    assert_matches_printed_table,
    cin_xml,
    create_report_clusters,
    post_events,
    report_events,
    sector_map_csv,
    ssda903_csv,
)

WINDOW = {"from": "2015-04", "to": "2020-01"}


async def test_tables_1_and_2_from_records_posted_to_the_api(
    formulation_client, metrics_client, auth, deliver_events
):
    await create_report_clusters(formulation_client, auth, deliver_events)
    partner = auth("partner_system")
    for measure in ("cp_plan_start", "cla_start"):
        events = report_events(measure)
        assert await post_events(metrics_client, partner, events) == (len(events), 0)
    analyst = auth("analyst")
    for measure in ("cp_plan_start", "cla_start"):
        r = await metrics_client.get(
            "/v1/metrics/pre-post", params={"measure": measure, **WINDOW}, headers=analyst
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["as_of"] and body["disclosure"] == "unsuppressed"
        assert_matches_printed_table(body, measure)
        assert body["comparison_group"] is None  # no non-RES cluster has data
        assert any("randomisation" in c for c in body["caveats"])
    # RES 6's post-RES CP average keeps full precision: 64/28, which the report printed as 2.28
    r = await metrics_client.get(
        "/v1/metrics/pre-post", params={"measure": "cp_plan_start", **WINDOW}, headers=analyst
    )
    res6 = next(row for row in r.json()["rows"] if row["cluster"] == "RES-6")
    assert res6["post_monthly_average"] == 64 / 28


async def test_tables_1_and_2_from_the_statutory_file_importers(
    formulation_client, metrics_client, auth, deliver_events
):
    await create_report_clusters(formulation_client, auth, deliver_events)
    analyst = auth("analyst")
    r = await metrics_client.post(
        "/v1/imports/ssda903",
        files={
            "episodes": ("episodes.csv", ssda903_csv(), "text/csv"),
            "sector_map": ("sectors.csv", sector_map_csv(), "text/csv"),
        },
        headers=analyst,
    )
    assert r.status_code == 201, r.text
    report = r.json()
    starts = len(rd.record_days("cla_start"))
    assert report["applied"] == starts
    assert report["rejected_count"] == 0
    assert report["ignored"] == report["rows_read"] - starts  # placement changes and short breaks

    census, child_map = cin_xml()
    r = await metrics_client.post(
        "/v1/imports/cin",
        files={
            "census": ("cin.xml", census, "application/xml"),
            "child_map": ("children.csv", child_map, "text/csv"),
        },
        headers=analyst,
    )
    assert r.status_code == 201, r.text
    assert r.json()["rejected_count"] == 0

    for measure in ("cp_plan_start", "cla_start"):
        r = await metrics_client.get(
            "/v1/metrics/pre-post", params={"measure": measure, **WINDOW}, headers=analyst
        )
        assert r.status_code == 200, r.text
        assert_matches_printed_table(r.json(), measure)

    # the same yearly file sent again changes nothing
    r = await metrics_client.post(
        "/v1/imports/ssda903",
        files={
            "episodes": ("episodes.csv", ssda903_csv(), "text/csv"),
            "sector_map": ("sectors.csv", sector_map_csv(), "text/csv"),
        },
        headers=analyst,
    )
    assert (r.json()["applied"], r.json()["duplicates"]) == (0, starts)
    r = await metrics_client.get(
        "/v1/metrics/pre-post", params={"measure": "cla_start", **WINDOW}, headers=analyst
    )
    assert_matches_printed_table(r.json(), "cla_start")
