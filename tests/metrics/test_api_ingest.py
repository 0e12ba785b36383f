"""Posting service records: duplicates, validation, roles, recompute and the worker job."""

from datetime import date, timedelta

from sqlalchemy import text

from services.metrics_worker.records import keyed_pseudonymiser
from shared import clock
from shared.queues import queue_name
from tests.metrics.api_helpers import create_report_clusters, post_events, report_events

WINDOW = {"from": "2015-04", "to": "2020-01"}


def ev(i, cluster="RES-1", day="2018-05-03", type_="referral"):
    return {"type": type_, "cluster": cluster, "date": day, "child_ref": f"c{i}", "source_id": f"s{i}"}


async def _counts(backbone):
    async with backbone.engines["metrics"].connect() as conn:
        rows = await conn.execute(
            text("SELECT measure, cluster_code, month, count FROM metrics.monthly_counts")
        )
        return {(m, c, mo): n for m, c, mo, n in rows}


async def test_resent_source_ids_are_duplicates_and_change_nothing(metrics_client, auth, backbone):
    partner = auth("partner_system")
    batch = [ev(1), ev(2), ev(3, day="2018-06-01"), ev(2)]  # s2 twice in one batch
    r = await metrics_client.post("/v1/service-events", json={"events": batch}, headers=partner)
    assert r.status_code == 200, r.text
    assert (r.json()["accepted"], r.json()["duplicates"]) == (3, 1)
    before = await _counts(backbone)
    assert before == {
        ("referral", "RES-1", date(2018, 5, 1)): 2,
        ("referral", "RES-1", date(2018, 6, 1)): 1,
    }
    # re-sent with a different date: still the same source record, so ignored
    again = [ev(1, day="2019-01-01"), ev(3)]
    r = await metrics_client.post("/v1/service-events", json={"events": again}, headers=partner)
    assert (r.json()["accepted"], r.json()["duplicates"]) == (0, 2)
    assert r.json()["batch_id"] is None
    assert await _counts(backbone) == before
    async with backbone.engines["metrics"].connect() as conn:
        audits = await conn.scalar(
            text("SELECT count(*) FROM metrics.audit_log WHERE resource_type = 'service_record_batch'")
        )
    assert audits == 1  # one write, one audit row


async def test_bad_records_are_refused_whole_with_field_and_rule(metrics_client, auth, backbone):
    partner = auth("partner_system")
    future = (clock.today() + timedelta(days=2)).isoformat()
    cases = [
        (ev(1, type_="adoption"), "type", "literal_error"),
        (ev(2, day=future), "date", "value_error"),
        (ev(3, cluster="RES 1"), "cluster", "string_pattern_mismatch"),
        ({**ev(4), "name": "Jane"}, "name", "extra_forbidden"),
        ({**ev(5), "child_ref": "has spaces in it"}, "child_ref", "string_pattern_mismatch"),
    ]
    for bad, field, rule in cases:
        r = await metrics_client.post("/v1/service-events", json={"events": [ev(0), bad]}, headers=partner)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        problem = r.json()
        assert problem["field"] == f"body.events.1.{field}"
        assert problem["rule"] == rule
    r = await metrics_client.post("/v1/service-events", json={"events": []}, headers=partner)
    assert r.status_code == 422
    assert await _counts(backbone) == {}  # the good record in each batch was not written either


async def test_roles(metrics_client, auth):
    body = {"events": [ev(1)]}
    r = await metrics_client.post("/v1/service-events", json=body, headers=auth("practitioner"))
    assert r.status_code == 403
    assert r.json()["rule"] == "role_not_allowed"
    r = await metrics_client.post("/v1/service-events", json=body)
    assert r.status_code == 401
    r = await metrics_client.post("/v1/recompute", headers=auth("analyst"))
    assert r.status_code == 403
    r = await metrics_client.get(
        "/v1/metrics/pre-post",
        params={"measure": "cla_start", **WINDOW, "disclosure": "unsuppressed"},
        headers=auth("team_manager"),
    )
    assert r.status_code == 403
    assert r.json()["rule"] == "disclosure_requires_analyst"
    assert r.json()["field"] == "query.disclosure"


async def test_bad_queries_name_the_parameter(metrics_client, auth):
    analyst = auth("analyst")
    r = await metrics_client.get(
        "/v1/metrics/pre-post", params={"measure": "births", **WINDOW}, headers=analyst
    )
    assert (r.status_code, r.json()["field"], r.json()["rule"]) == (
        422,
        "query.measure",
        "unknown_measure",
    )
    r = await metrics_client.get(
        "/v1/metrics/pre-post",
        params={"measure": "cla_start", "from": "2020-01", "to": "2019-01"},
        headers=analyst,
    )
    assert (r.status_code, r.json()["field"], r.json()["rule"]) == (422, "query.to", "window_order")
    r = await metrics_client.get(
        "/v1/metrics/pre-post",
        params={"measure": "cla_start", "from": "2019-13", "to": "2020-01"},
        headers=analyst,
    )
    assert (r.status_code, r.json()["field"]) == (422, "query.from")


async def test_incremental_counts_equal_a_rebuild_from_raw_records(
    formulation_client, metrics_client, auth, deliver_events, backbone
):
    await create_report_clusters(formulation_client, auth, deliver_events)
    partner = auth("partner_system")
    events = report_events("cla_start")
    # sent in overlapping pieces, so increments and duplicates interleave
    await post_events(metrics_client, partner, events[:900])
    await post_events(metrics_client, partner, events[600:])
    incremental = await _counts(backbone)
    assert sum(incremental.values()) == len(events)
    r = await metrics_client.post("/v1/recompute", headers=auth("scheduler"))
    assert r.status_code == 202, r.text
    run_id = r.json()["run_id"]
    assert r.json()["status"] == "queued" and r.json()["as_of"]
    assert r.headers["location"] == f"/v1/recompute/{run_id}"
    r = await metrics_client.get(f"/v1/recompute/{run_id}", headers=auth("scheduler"))
    assert (r.status_code, r.json()["status"]) == (200, "queued")
    assert await deliver_events() >= 1  # the worker runs the queued job
    r = await metrics_client.get(f"/v1/recompute/{run_id}", headers=auth("analyst"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "done"
    assert r.json()["trigger"] == "api"
    assert r.json()["identical_to_incremental"] is True
    assert r.json()["records"] == len(events)
    assert await _counts(backbone) == incremental
    r = await metrics_client.get(
        "/v1/metrics/pre-post", params={"measure": "cla_start", **WINDOW}, headers=auth("analyst")
    )
    assert r.json()["recomputed_at"] is not None


async def test_recompute_job_runs_on_the_worker(metrics_client, auth, backbone, deliver_events):
    await metrics_client.post(
        "/v1/service-events", json={"events": [ev(1), ev(2)]}, headers=auth("partner_system")
    )
    async with backbone.engines["metrics"].begin() as conn:  # damage the derived table
        await conn.execute(text("UPDATE metrics.monthly_counts SET count = 99"))
    job = await backbone.redis.enqueue_job(
        "metrics.recompute", _queue_name=queue_name(backbone.servers.queue_prefix, "metrics")
    )
    assert job is not None
    assert await deliver_events() >= 1
    assert await _counts(backbone) == {("referral", "RES-1", date(2018, 5, 1)): 2}
    async with backbone.engines["metrics"].connect() as conn:
        trigger = await conn.scalar(text("SELECT trigger FROM metrics.recompute_runs"))
    assert trigger == "job"


async def test_nightly_cron_is_registered():
    from services.metrics_worker.tasks import CRON_JOBS, FUNCTIONS

    assert [c.name for c in CRON_JOBS] == ["cron:nightly_recompute"]
    assert CRON_JOBS[0].hour == {2}
    assert [f.name for f in FUNCTIONS] == ["metrics.recompute"]


async def test_openapi_lists_the_contract_routes(metrics_client):
    r = await metrics_client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in (
        "/v1/service-events",
        "/v1/clusters/{code}/population",
        "/v1/metrics/pre-post",
        "/v1/metrics/costs",
        "/v1/metrics/costs/scenario",
        "/v1/unit-costs",
        "/v1/recompute",
        "/v1/metrics/series.svg",
        "/v1/imports/ssda903",
        "/v1/imports/cin",
    ):
        assert path in paths, path


async def test_recompute_inline_repairs_damaged_counts_and_says_so(metrics_client, auth, backbone):
    await metrics_client.post(
        "/v1/service-events", json={"events": [ev(1), ev(2)]}, headers=auth("partner_system")
    )
    r = await metrics_client.post("/v1/recompute", params={"wait": "true"}, headers=auth("scheduler"))
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["identical_to_incremental"]) == ("done", True)
    async with backbone.engines["metrics"].begin() as conn:  # damage the derived table
        await conn.execute(text("UPDATE metrics.monthly_counts SET count = 99"))
    r = await metrics_client.post("/v1/recompute", params={"wait": "true"}, headers=auth("scheduler"))
    assert (r.json()["records"], r.json()["identical_to_incremental"]) == (2, False)
    assert await _counts(backbone) == {("referral", "RES-1", date(2018, 5, 1)): 2}
    run_id = r.json()["run_id"]
    r = await metrics_client.get(f"/v1/recompute/{run_id}", headers=auth("scheduler"))
    assert (r.json()["status"], r.json()["cells"]) == ("done", 1)


async def test_recompute_status_of_unknown_or_failed_runs(metrics_client, auth, backbone, deliver_events):
    missing = "00000000-0000-4000-8000-000000000000"
    r = await metrics_client.get(f"/v1/recompute/{missing}", headers=auth("scheduler"))
    assert (r.status_code, r.headers["content-type"]) == (404, "application/problem+json")
    r = await metrics_client.get("/v1/recompute/not-a-uuid", headers=auth("scheduler"))
    assert (r.status_code, r.json()["field"]) == (422, "path.run_id")
    r = await metrics_client.get(f"/v1/recompute/{missing}", headers=auth("team_manager"))
    assert r.status_code == 403
    # a job that fails (here: a run id that is not a uuid) is reported as failed, not as queued
    job = await backbone.redis.enqueue_job(
        "metrics.recompute",
        "api",
        "broken",
        _job_id=missing,
        _queue_name=queue_name(backbone.servers.queue_prefix, "metrics"),
    )
    assert job is not None
    await deliver_events()
    r = await metrics_client.get(f"/v1/recompute/{missing}", headers=auth("scheduler"))
    assert (r.status_code, r.json()["status"]) == (200, "failed")


async def test_partner_child_refs_are_keyed_hashes_when_stored(metrics_client, auth, backbone, apps):
    r = await metrics_client.post(
        "/v1/service-events", json={"events": [ev(1), ev(2)]}, headers=auth("partner_system")
    )
    assert r.json()["accepted"] == 2
    async with backbone.engines["metrics"].connect() as conn:
        stored = sorted(await conn.scalars(text("SELECT child_ref FROM metrics.service_records")))
    key = apps["metrics"].state.settings.pseudonym_secret()
    pseudonym = keyed_pseudonymiser(key, "partner-child")
    assert stored == sorted([pseudonym("c1"), pseudonym("c2")])
    assert not {"c1", "c2"} & set(stored)
    # an imported LA id of the same spelling gets a different pseudonym
    assert pseudonym("c1") != keyed_pseudonymiser(key, "la-child")("c1")
