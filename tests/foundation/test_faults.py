"""Fault tests with real processes: Redis down, a relay killed mid-batch, PostgreSQL restarted."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from arq.connections import RedisSettings, create_pool
from sqlalchemy import text

from shared.consumer import build_worker
from shared.db import create_engine, create_sessionmaker
from shared.embedded import start_postgres, start_redis
from shared.migrate import migrate_all
from shared.queues import job_id, queue_name
from shared.relay import Relay
from shared.settings import asyncpg_url
from shared.worker import RestartPolicy, WorkerFailed, run_workers
from tests.foundation.effects import effects, handler_installed, recording_handler, reset_effects
from tests.support import ROOT, client_for, settings_for

pytestmark = pytest.mark.backbone
CLUSTER = {"name": "Armley & Farnley", "res_start": "2018-05-01", "co_located": True}


def _svc(services, name):  # type: ignore[no-untyped-def]
    return next(s for s in services if s.name == name)


async def _unpublished(engine) -> int:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return int(
            await conn.scalar(text("select count(*) from formulation.outbox where published_at is null")) or 0
        )


async def _wait_for(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


async def test_redis_down_writes_succeed_and_events_arrive_after(
    formulation_client, auth, backbone, services
):
    redis_proc = start_redis(None)
    port = redis_proc.port
    pool = await create_pool(RedisSettings.from_dsn(redis_proc.url))
    engine = backbone.engines["formulation"]
    await reset_effects(backbone.engines["goals"])
    relay = Relay(
        service="formulation",
        schema="formulation",
        engine=engine,
        redis=pool,
        queue_prefix="fault-redis",
    )
    stop = asyncio.Event()
    relay_task = asyncio.create_task(relay.run_forever(poll_seconds=0.2, stop=stop))
    try:
        redis_proc.stop()
        for i in range(5):
            r = await formulation_client.put(f"/v1/clusters/R-{i}", json=CLUSTER, headers=auth("admin"))
            assert r.status_code == 201  # the write path needs PostgreSQL only
        await asyncio.sleep(1.0)
        assert await _unpublished(engine) == 5  # held back, not lost
        redis_proc = start_redis(None, port=port)
        await _wait_for(lambda: _unpublished_is_zero(engine))
        goals = _svc(services, "goals")
        with handler_installed(goals, "cluster.upserted", recording_handler("goals")):
            worker = build_worker(
                service="goals",
                schema="goals",
                handlers=goals.handlers,
                sessionmaker=backbone.sessionmakers["goals"],
                redis=pool,
                queue_prefix="fault-redis",
                burst=True,
                poll_delay=0.05,
            )
            await worker.main()
        subjects = sorted(s for _, s in await effects(backbone.engines["goals"], "goals"))
        assert subjects == [f"R-{i}" for i in range(5)]
    finally:
        stop.set()
        await relay_task
        await pool.aclose()
        redis_proc.stop()


def _point_the_worker_at(monkeypatch, database_url: str, redis_url: str, prefix: str) -> None:  # type: ignore[no-untyped-def]
    """run_workers reads its settings from the environment, as `rethink worker` does."""
    for name in ("RETHINK_DATABASE_URL", "RETHINK_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("RETHINK_QUEUE_PREFIX", prefix)


async def _goals_knows(engine, code: str) -> bool:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        found = await conn.scalar(text("select count(*) from goals.clusters where code = :c"), {"c": code})
        return bool(found)


def _consumer_stops(caplog, service: str) -> list[logging.LogRecord]:  # type: ignore[no-untyped-def]
    return [
        r
        for r in caplog.records
        if r.name == "rethink.worker"
        and r.getMessage().startswith("event consumer stopped")
        and getattr(r, "service", None) == service
    ]


async def test_the_worker_consumes_again_after_a_redis_outage(
    formulation_client, auth, backbone, servers, monkeypatch, caplog
):
    redis_proc = start_redis(None)
    port = redis_proc.port
    _point_the_worker_at(monkeypatch, servers.database_url, redis_proc.url, f"{servers.queue_prefix}:outage")
    caplog.set_level(logging.INFO, logger="rethink.worker")
    goals_engine = backbone.engines["goals"]
    stop = asyncio.Event()
    policy = RestartPolicy(first_seconds=0.1, max_seconds=0.5)
    runner = asyncio.create_task(run_workers(["formulation", "goals"], stop, restart=policy))
    try:
        r = await formulation_client.put("/v1/clusters/OUT-1", json=CLUSTER, headers=auth("admin"))
        assert r.status_code == 201
        await _wait_for(lambda: _goals_knows(goals_engine, "OUT-1"))
        redis_proc.stop()

        async def goals_consumer_stopped() -> bool:
            return bool(_consumer_stops(caplog, "goals"))

        await _wait_for(goals_consumer_stopped, timeout=15)
        # what is logged names the service and the error's type, nothing from the events
        record = _consumer_stops(caplog, "goals")[0]
        assert record.levelno == logging.ERROR
        assert record.error == "ConnectionError"  # type: ignore[attr-defined]
        redis_proc = start_redis(None, port=port)
        r = await formulation_client.put("/v1/clusters/OUT-2", json=CLUSTER, headers=auth("admin"))
        assert r.status_code == 201
        await _wait_for(lambda: _goals_knows(goals_engine, "OUT-2"), timeout=20)
        assert not runner.done()  # the same worker process, still running
    finally:
        stop.set()
        await asyncio.wait_for(runner, 30)
        redis_proc.stop()


async def test_a_worker_whose_consumer_keeps_dying_fails(backbone, servers, monkeypatch, caplog):
    redis_proc = start_redis(None)
    _point_the_worker_at(monkeypatch, servers.database_url, redis_proc.url, f"{servers.queue_prefix}:dying")
    stop = asyncio.Event()
    policy = RestartPolicy(first_seconds=0.05, max_seconds=0.1, give_up_after=3)
    runner = asyncio.create_task(run_workers(["goals"], stop, restart=policy))
    try:
        health_key = f"{servers.queue_prefix}:dying:events:goals:health-check"
        probe = await create_pool(RedisSettings.from_dsn(redis_proc.url))

        async def consuming() -> bool:
            return bool(await probe.exists(health_key))

        await _wait_for(consuming, timeout=15)
        await probe.aclose()
        redis_proc.stop()  # and never back
        with pytest.raises(WorkerFailed, match="goals"):
            await asyncio.wait_for(runner, 30)
        assert len(_consumer_stops(caplog, "goals")) == 3
    finally:
        stop.set()
        if not runner.done():
            runner.cancel()
        redis_proc.stop()


async def _postmaster_start(engine):  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return await conn.scalar(text("select pg_postmaster_start_time()"))


async def _unpublished_is_zero(engine) -> bool:  # type: ignore[no-untyped-def]
    return await _unpublished(engine) == 0


async def test_relay_killed_between_enqueue_and_progress_has_no_double_effect(
    formulation_client, auth, backbone, services, servers
):
    engine = backbone.engines["formulation"]
    await reset_effects(backbone.engines["goals"])
    for i in range(6):
        await formulation_client.put(f"/v1/clusters/K-{i}", json=CLUSTER, headers=auth("admin"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.foundation.crashing_relay",
            servers.database_url,
            servers.redis_url,
            servers.queue_prefix,
            "6",
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    goals_queue = queue_name(servers.queue_prefix, "goals")
    assert await backbone.redis.zcard(goals_queue) == 6  # enqueued ...
    assert await _unpublished(engine) == 6  # ... but progress was never recorded
    assert await backbone.relay("formulation").drain() == 6  # a new relay sends them again
    assert await backbone.redis.zcard(goals_queue) == 6  # same job ids: no second copy queued
    goals = _svc(services, "goals")
    with handler_installed(goals, "cluster.upserted", recording_handler("goals")):
        await backbone.deliver()
        # and if the copies had gone through anyway, the processed-events table absorbs them:
        # forget these jobs' results (this run's only), so the same job ids can be queued again
        async with engine.connect() as conn:
            rows = (await conn.execute(text("select id, event_id from formulation.outbox"))).all()
        await backbone.redis.delete(*[f"arq:result:{job_id('goals', e, seq)}" for seq, e in rows])
        async with engine.begin() as conn:
            await conn.execute(text("update formulation.outbox set published_at = null"))
        await backbone.deliver()
    subjects = sorted(s for _, s in await effects(backbone.engines["goals"], "goals"))
    assert subjects == [f"K-{i}" for i in range(6)]


async def test_database_restart_under_load_loses_no_committed_event(servers, services):
    import pgserver

    # Not under pytest's tmp_path: as root, pgserver runs PostgreSQL as its own user, which must
    # traverse the parents, and another pytest session starting resets pytest-of-root to 0700.
    scratch = Path(tempfile.mkdtemp(prefix="rethink-fault-pg-"))
    pg, url = start_postgres(scratch / "pg")
    try:
        await asyncio.to_thread(migrate_all, asyncpg_url(url))
        formulation, goals = _svc(services, "formulation"), _svc(services, "goals")
        app = formulation.create_app(settings_for(formulation, servers, database_url=url))
        engine = create_engine(asyncpg_url(url), pool_size=3, max_overflow=2)
        await reset_effects(engine)
        started_before = await _postmaster_start(engine)
        pool = await create_pool(RedisSettings.from_dsn(servers.redis_url))
        prefix = f"{servers.queue_prefix}:fault-pg"  # this run's, cleaned with its other queues
        relay = Relay(
            service="formulation",
            schema="formulation",
            engine=engine,
            redis=pool,
            queue_prefix=prefix,
        )
        stop = asyncio.Event()
        committed: set[str] = set()
        from tests.support import auth_headers

        headers = auth_headers("admin")
        async with app.router.lifespan_context(app), client_for(app, "pg-fault") as client:
            relay_task = asyncio.create_task(relay.run_forever(poll_seconds=0.2, stop=stop))

            async def writer(n: int) -> None:
                for i in range(40):
                    code = f"L-{n}-{i}"
                    try:
                        r = await client.put(f"/v1/clusters/{code}", json=CLUSTER, headers=headers)
                    except Exception:
                        continue
                    if r.status_code in (200, 201):
                        committed.add(code)
                    await asyncio.sleep(0.01)

            async def restart() -> None:
                await asyncio.sleep(0.4)
                await asyncio.to_thread(
                    pgserver.pg_ctl,
                    ["-m", "fast", "-w", "restart"],
                    pgdata=pg.pgdata,
                    user=pg.system_user,
                )

            await asyncio.gather(*(writer(n) for n in range(4)), restart())
            await _wait_for(lambda: _unpublished_is_zero(engine), timeout=60)
            stop.set()
            await relay_task
        sessionmaker = create_sessionmaker(engine, service="goals", schema="goals")
        with handler_installed(goals, "cluster.upserted", recording_handler("goals")):
            worker = build_worker(
                service="goals",
                schema="goals",
                handlers=goals.handlers,
                sessionmaker=sessionmaker,
                redis=pool,
                queue_prefix=prefix,
                burst=True,
                poll_delay=0.05,
            )
            await worker.main()
        applied = [s for _, s in await effects(engine, "goals")]
        assert await _postmaster_start(engine) > started_before  # it really restarted
        assert len(committed) > 40  # the load really ran on both sides of the restart
        assert committed <= set(applied)
        assert len(applied) == len(set(applied))
        await pool.aclose()
        await engine.dispose()
    finally:
        pg.cleanup()
        # pg_ctl restart started a new postmaster that the handle does not know: stop it too.
        if (Path(pg.pgdata) / "postmaster.pid").exists():
            await asyncio.to_thread(
                pgserver.pg_ctl,
                ["-m", "immediate", "-w", "stop"],
                pgdata=pg.pgdata,
                user=pg.system_user,
            )
        shutil.rmtree(scratch, ignore_errors=True)
