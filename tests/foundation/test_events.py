"""End to end: a write in one service, applied exactly once by consumers in the others."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from shared.queues import queue_name
from shared.relay import HANDLE_EVENT, Relay
from tests.foundation.effects import effects, handler_installed, recording_handler, reset_effects

pytestmark = pytest.mark.backbone
CLUSTER = {"name": "JESS", "res_start": "2018-02-01", "co_located": False}


def _svc(backbone, name):  # type: ignore[no-untyped-def]
    return next(s for s in backbone.services if s.name == name)


@pytest.fixture
async def effect_engine(backbone):  # type: ignore[no-untyped-def]
    engine = backbone.engines["goals"]
    await reset_effects(engine)
    return engine


async def _put(client, auth, code: str) -> None:  # type: ignore[no-untyped-def]
    r = await client.put(f"/v1/clusters/{code}", json=CLUSTER, headers=auth("admin"))
    assert r.status_code in (200, 201), r.text


async def test_write_applied_once_by_each_consumer(
    formulation_client, auth, backbone, deliver_events, effect_engine
):
    goals, metrics = _svc(backbone, "goals"), _svc(backbone, "metrics")
    with (
        handler_installed(goals, "cluster.upserted", recording_handler("goals")),
        handler_installed(metrics, "cluster.upserted", recording_handler("metrics")),
    ):
        await _put(formulation_client, auth, "RES-4")
        await deliver_events()
        await deliver_events()  # nothing left: a second delivery round changes nothing
    assert [s for _, s in await effects(effect_engine, "goals")] == ["RES-4"]
    assert [s for _, s in await effects(effect_engine, "metrics")] == ["RES-4"]


async def test_event_enqueued_twice_has_one_effect(
    formulation_client, auth, backbone, deliver_events, effect_engine
):
    goals = _svc(backbone, "goals")
    with handler_installed(goals, "cluster.upserted", recording_handler("goals")):
        await _put(formulation_client, auth, "RES-4")
        await backbone.relay("formulation").drain()
        # arq delivers at least once: force a second copy of the job under another job id
        (envelope,) = await backbone.outbox_envelopes("formulation")
        await backbone.redis.enqueue_job(
            HANDLE_EVENT,
            envelope.model_dump(mode="json"),
            _job_id="duplicate-copy",
            _queue_name=queue_name(backbone.servers.queue_prefix, "goals"),
        )
        await deliver_events()
    assert len(await effects(effect_engine, "goals")) == 1
    async with backbone.engines["goals"].connect() as conn:
        assert await conn.scalar(text("select count(*) from goals.processed_events")) == 1


async def test_consumer_failing_half_way_is_retried_without_double_effect(
    formulation_client, auth, backbone, deliver_events, effect_engine
):
    goals = _svc(backbone, "goals")
    with handler_installed(goals, "cluster.upserted", recording_handler("goals", fail_first=2)):
        await _put(formulation_client, auth, "RES-4")
        await deliver_events()
    rows = await effects(effect_engine, "goals")
    # the two failed attempts rolled back their effect together with the processed-events row
    assert len(rows) == 1
    async with effect_engine.connect() as conn:
        attempt = await conn.scalar(text("select attempt from test_support.effects"))
    assert attempt == 3


async def test_relay_keeps_commit_order_per_producer(
    formulation_client, auth, backbone, deliver_events, effect_engine
):
    goals = _svc(backbone, "goals")
    codes = [f"C-{i:02d}" for i in range(12)]
    with handler_installed(goals, "cluster.upserted", recording_handler("goals")):
        for code in codes:
            await _put(formulation_client, auth, code)
        await deliver_events()
    assert [s for _, s in await effects(effect_engine, "goals")] == codes


async def test_concurrent_relays_publish_each_event_once(formulation_client, auth, backbone):
    for i in range(30):
        await _put(formulation_client, auth, f"C-{i}")
    relays = [
        Relay(
            service="formulation",
            schema="formulation",
            engine=backbone.engines["formulation"],
            redis=backbone.redis,
            queue_prefix=backbone.servers.queue_prefix,
            batch_size=4,
        )
        for _ in range(3)
    ]
    for _ in range(20):
        await asyncio.gather(*(r.run_once() for r in relays))
    goals_queue = queue_name(backbone.servers.queue_prefix, "goals")
    assert await backbone.redis.zcard(goals_queue) == 30
    async with backbone.engines["formulation"].connect() as conn:
        assert (
            await conn.scalar(text("select count(*) from formulation.outbox where published_at is null")) == 0
        )


async def test_rolled_back_write_emits_nothing(formulation_client, auth, backbone):
    r = await formulation_client.put(
        "/v1/clusters/RES-4", json={**CLUSTER, "name": ""}, headers=auth("admin")
    )
    assert r.status_code == 422
    assert await backbone.relay("formulation").drain() == 0


def test_payload_refuses_free_text():
    from pydantic import ValidationError

    from shared.events import build_envelope

    with pytest.raises(ValidationError):
        build_envelope(
            "formulation",
            "family.closed",
            "f",
            {
                "family_id": "5d1c3c1e-4c2b-4d8e-9d7a-1f2e3d4c5b6a",
                "cluster_code": "RES-1",
                "reason_code": "Mum said she is moving to Bradford",
                "closed_on": "2020-01-01",
            },
        )


async def _outbox_drained(engine, within: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    for _ in range(int(within / 0.1)):
        async with engine.connect() as conn:
            pending = await conn.scalar(
                text("select count(*) from formulation.outbox where published_at is null")
            )
        if pending == 0:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_notify_wakes_a_listening_relay(backbone, services):
    """With RETHINK_OUTBOX_NOTIFY the relay is woken at commit, long before its (here 60 s) poll."""
    from shared.db import create_sessionmaker
    from shared.outbox import emit

    engine = backbone.engines["formulation"]
    sessionmaker = create_sessionmaker(
        engine, service="formulation", schema="formulation", outbox_notify=True
    )
    relay = backbone.relay("formulation")
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run_forever(poll_seconds=60, stop=stop, listen=True))
    await asyncio.sleep(0.5)  # the first drain has run and the listener is attached
    async with sessionmaker() as session, session.begin():
        await emit(
            session,
            "cluster.upserted",
            subject_id="N-1",
            payload={"cluster_code": "N-1", "res_start": None, "co_located": False},
        )
    try:
        assert await _outbox_drained(backbone.engines["formulation"])
    finally:
        stop.set()
        await task


async def test_notify_from_an_atomic_write_wakes_the_relay(backbone, services, servers, auth):
    """The cluster PUT writes row, audit and event in one statement; with NOTIFY on it notifies too."""
    from tests.support import client_for, settings_for

    svc = next(s for s in services if s.name == "formulation")
    app = svc.create_app(settings_for(svc, servers, outbox_notify=True))
    relay = backbone.relay("formulation")
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run_forever(poll_seconds=60, stop=stop, listen=True))
    await asyncio.sleep(0.5)
    try:
        async with app.router.lifespan_context(app), client_for(app, "notify") as client:
            body = {"name": "Notify", "res_start": None, "co_located": False}
            r = await client.put("/v1/clusters/N-2", json=body, headers=auth("admin"))
            assert r.status_code == 201
        assert await _outbox_drained(backbone.engines["formulation"])
    finally:
        stop.set()
        await task


async def test_worker_liveness_key_read_by_the_health_check(backbone, servers):
    import importlib.util

    from tests.support import ROOT

    spec = importlib.util.spec_from_file_location("healthcheck", ROOT / "deploy" / "healthcheck.py")
    assert spec and spec.loader
    healthcheck = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(healthcheck)
    env = {
        "DATABASE_URL": servers.database_url,
        "REDIS_URL": servers.redis_url,
        "RETHINK_QUEUE_PREFIX": servers.queue_prefix,
    }
    assert await asyncio.to_thread(healthcheck.check_worker, env) is False  # no loop has run yet
    await backbone.worker("goals").main()
    assert await asyncio.to_thread(healthcheck.check_worker, env, ["goals"]) is True
    # a worker for every service is healthy only when each of its loops is alive
    assert await asyncio.to_thread(healthcheck.check_worker, env) is False


async def test_prune_drops_only_what_has_expired(formulation_client, auth, backbone):
    await _put(formulation_client, auth, "P-1")
    await _put(formulation_client, auth, "P-2")
    relay = backbone.relay("formulation")
    await relay.drain()
    engine = backbone.engines["formulation"]
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "update formulation.outbox set occurred_at = now() - interval '8 days', "
                "published_at = now() - interval '8 days' where subject_id = 'P-1'"
            )
        )
        # an old event the relay has not sent yet (Redis was down for a week) is kept
        await conn.execute(
            text(
                "insert into formulation.outbox (event_id, type, version, occurred_at, subject_id, payload) "
                "values (gen_random_uuid(), 'cluster.upserted', 1, now() - interval '9 days', 'P-0', '{}')"
            )
        )
        await conn.execute(
            text(
                "insert into formulation.processed_events (event_id, event_type, occurred_at, processed_at) "
                "values (gen_random_uuid(), 'x', now(), now() - interval '31 days'), "
                "(gen_random_uuid(), 'x', now(), now())"
            )
        )
        await conn.execute(
            text(
                "insert into formulation.idempotency_keys (actor, key, request_hash, status_code, "
                "content_type, response_body, created_at) values "
                "('a', 'old', 'h', 201, 'j', '', now() - interval '25 hours'), "
                "('a', 'new', 'h', 201, 'j', '', now())"
            )
        )
    assert await relay.prune() == {"outbox": 1, "processed_events": 1, "idempotency_keys": 1}
    async with engine.connect() as conn:
        kept = (await conn.execute(text("select subject_id from formulation.outbox order by 1"))).scalars()
        assert list(kept) == ["P-0", "P-2"]
        assert await conn.scalar(text("select key from formulation.idempotency_keys")) == "new"


async def test_event_failing_every_attempt_is_parked_then_replayed_once(
    formulation_client, goals_client, auth, backbone, deliver_events, effect_engine, services
):
    from shared.consumer import replay_dead_events

    goals = _svc(backbone, "goals")
    await _put(formulation_client, auth, "D-1")
    await backbone.relay("formulation").drain()
    with handler_installed(goals, "cluster.upserted", recording_handler("goals", fail_first=99)):
        await backbone.worker("goals", max_tries=3).main()
    async with backbone.engines["goals"].connect() as conn:
        parked = (
            await conn.execute(text("select event_type, error_type, attempts from goals.dead_events"))
        ).all()
        processed = await conn.scalar(text("select count(*) from goals.processed_events"))
    assert [tuple(r) for r in parked] == [("cluster.upserted", "RuntimeError", 3)]
    assert processed == 0 and await effects(effect_engine, "goals") == []
    metrics_text = (await goals_client.get("/metrics")).text
    assert 'rethink_dead_events{service="goals"} 1.0' in metrics_text
    # the fault is fixed: replay applies it once and clears the parking place
    with handler_installed(goals, "cluster.upserted", recording_handler("goals")):
        assert await replay_dead_events(backbone.sessionmakers["goals"], "goals", goals.handlers) == (1, 0)
        assert await replay_dead_events(backbone.sessionmakers["goals"], "goals", goals.handlers) == (0, 0)
    assert [s for _, s in await effects(effect_engine, "goals")] == ["D-1"]
