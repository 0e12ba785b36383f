"""A consumer never drops an event: not when the database is down as it parks the event, not when a
handler runs past the job's time. Real arq workers in burst mode, real PostgreSQL and Redis."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.consumer import JOB_TIMEOUT_SECONDS, handler_timeout
from shared.db import create_engine, create_sessionmaker
from shared.embedded import free_port
from shared.events import EventEnvelope
from shared.queues import queue_name
from shared.relay import HANDLE_EVENT
from shared.settings import asyncpg_url
from tests.foundation.effects import effects, handler_installed, recording_handler, reset_effects

pytestmark = pytest.mark.backbone
CLUSTER = {"name": "Seacroft", "res_start": "2019-01-01", "co_located": True}


class DatabaseDownFor:
    """The goals sessionmaker, but the database is unreachable for the first `sessions` sessions.

    Those are opened on an engine whose port nothing listens on, so each fails with the real
    connection error a worker sees while PostgreSQL is down (on the handler's attempt and on the
    attempt to park alike)."""

    def __init__(self, real: async_sessionmaker[AsyncSession], sessions: int) -> None:
        self.real = real
        self.down_for = sessions
        self.opened = 0
        self.down_engine = create_engine(
            asyncpg_url(f"postgresql://postgres@127.0.0.1:{free_port()}/down"), pool_size=1, max_overflow=0
        )
        self.down = create_sessionmaker(self.down_engine, service="goals", schema="goals")

    def __call__(self) -> AsyncSession:
        self.opened += 1
        return self.down() if self.opened <= self.down_for else self.real()


async def _queue_one_event(formulation_client, auth, backbone, code: str) -> None:  # type: ignore[no-untyped-def]
    await reset_effects(backbone.engines["goals"])
    r = await formulation_client.put(f"/v1/clusters/{code}", json=CLUSTER, headers=auth("admin"))
    assert r.status_code == 201, r.text
    assert await backbone.relay("formulation").drain() == 1


async def _parked(backbone) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    async with backbone.engines["goals"].connect() as conn:
        rows = await conn.execute(text("select event_type, error_type, attempts from goals.dead_events"))
        return [tuple(r) for r in rows]


async def _queued(backbone) -> int:  # type: ignore[no-untyped-def]
    return int(await backbone.redis.zcard(queue_name(backbone.servers.queue_prefix, "goals")))


def _goals(backbone):  # type: ignore[no-untyped-def]
    return next(s for s in backbone.services if s.name == "goals")


async def test_database_down_when_the_last_attempt_parks_keeps_the_event_until_it_is_parked(
    formulation_client, auth, backbone
):
    await _queue_one_event(formulation_client, auth, backbone, "DOWN-1")
    # attempt 1 and the last attempt (2) fail to reach the database, and so does parking after
    # attempt 2; attempt 3 reaches it, its handler fails again, and the event is parked then
    sessions = DatabaseDownFor(backbone.sessionmakers["goals"], sessions=3)
    try:
        with handler_installed(_goals(backbone), "cluster.upserted", recording_handler("goals", 99)):
            worker = backbone.worker("goals", max_tries=2, sessionmaker=sessions)
            await worker.main()
    finally:
        await sessions.down_engine.dispose()
    assert worker.jobs_failed == 0  # arq never gave the job up
    assert await _parked(backbone) == [("cluster.upserted", "RuntimeError", 3)]
    assert await _queued(backbone) == 0


async def test_database_down_at_the_last_attempt_then_back_applies_the_event_once(
    formulation_client, auth, backbone
):
    await _queue_one_event(formulation_client, auth, backbone, "DOWN-2")
    sessions = DatabaseDownFor(backbone.sessionmakers["goals"], sessions=3)
    try:
        with handler_installed(_goals(backbone), "cluster.upserted", recording_handler("goals")):
            worker = backbone.worker("goals", max_tries=2, sessionmaker=sessions)
            await worker.main()
    finally:
        await sessions.down_engine.dispose()
    assert worker.jobs_failed == 0
    assert [s for _, s in await effects(backbone.engines["goals"], "goals")] == ["DOWN-2"]
    assert await _parked(backbone) == []


def _slow_first(attempts_slow: int) -> Any:
    """A handler whose first `attempts_slow` attempts run a query far longer than the job may take."""
    seen: dict[str, int] = {}
    record = recording_handler("goals")

    async def handler(session: AsyncSession, event: EventEnvelope) -> None:
        key = str(event.event_id)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= attempts_slow:
            await session.execute(text("select pg_sleep(30)"))
        await record(session, event)

    return handler


async def test_a_handler_past_its_time_is_a_failed_attempt_that_is_retried(
    formulation_client, auth, backbone
):
    await _queue_one_event(formulation_client, auth, backbone, "SLOW-1")
    with handler_installed(_goals(backbone), "cluster.upserted", _slow_first(1)):
        worker = backbone.worker("goals", max_tries=3, job_timeout=2.0)
        await worker.main()
    assert worker.jobs_failed == 0 and worker.jobs_retried == 1
    assert [s for _, s in await effects(backbone.engines["goals"], "goals")] == ["SLOW-1"]
    assert await _parked(backbone) == []
    async with backbone.engines["goals"].connect() as conn:
        processed = await conn.scalar(text("select count(*) from goals.processed_events"))
        # the timed-out attempt's query is not left running on the server
        sleeping = await conn.scalar(
            text("select count(*) from pg_stat_activity where query = 'select pg_sleep(30)'")
        )
    assert processed == 1 and sleeping == 0


async def test_a_handler_that_always_runs_past_its_time_is_parked(formulation_client, auth, backbone):
    await _queue_one_event(formulation_client, auth, backbone, "SLOW-2")
    with handler_installed(_goals(backbone), "cluster.upserted", _slow_first(99)):
        worker = backbone.worker("goals", max_tries=2, job_timeout=4.0)
        await worker.main()
    assert worker.jobs_failed == 0
    # parked after its second attempt (or a later one, had parking itself run out of time)
    ((event_type, error, attempts),) = await _parked(backbone)
    assert (event_type, error) == ("cluster.upserted", "TimeoutError") and attempts >= 2
    assert await effects(backbone.engines["goals"], "goals") == []


async def test_event_jobs_have_an_explicit_timeout_and_outlive_the_attempt_limit(backbone):
    worker = backbone.worker("goals", max_tries=4)
    assert worker.job_timeout_s == JOB_TIMEOUT_SECONDS
    assert handler_timeout(JOB_TIMEOUT_SECONDS) < JOB_TIMEOUT_SECONDS
    # arq itself must never fail an event job for running out of tries: parking decides
    assert worker.functions[HANDLE_EVENT].max_tries > 10**6
    assert worker.max_tries == 4  # other jobs (the metrics recompute) keep the configured limit
