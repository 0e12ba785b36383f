"""Idempotent event consumption inside arq workers.

The processed-events row is written in the same transaction as the handler's effect: a redelivered
event finds the row and does nothing; a handler that fails half-way rolls back both, and arq retries.

An event is never dropped: after its last attempt it is parked in dead_events, and while it cannot be
parked either (the database is down) the job keeps being retried, with a bounded backoff, until it
can. An event this consumer cannot understand (an envelope that does not validate, a type it has
no handler for, a version its catalogue does not know) is parked at once, since retrying cannot
help: `rethink replay-dead` applies it once the consumer is upgraded.

A handler that runs too long times out inside `handle_event`, a little before arq's own job
timeout, so a slow attempt is an ordinary failed attempt (retried, then parked) rather than a job
that arq fails and forgets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from arq import Retry
from arq.connections import ArqRedis
from arq.constants import expires_extra_ms, job_key_prefix
from arq.cron import CronJob
from arq.worker import Worker
from pydantic import ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import clock
from shared.db import infra_for
from shared.events import CATALOGUE, EventEnvelope
from shared.queues import queue_name
from shared.relay import HANDLE_EVENT

log = logging.getLogger("rethink.consumer")
EventHandler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]

# arq's default job timeout, set explicitly: an event job that outlives it is cancelled by arq and
# recorded as failed, without a retry, so handle_event must always finish well before it.
JOB_TIMEOUT_SECONDS = 300.0
# arq's own attempt limit for event jobs: never reached. RETHINK_CONSUMER_MAX_TRIES decides when an
# event is parked; the attempts after that only exist while parking fails, and must not run out.
_UNTIL_PARKED = 2**31


class UnknownEvent(ValueError):
    """An event of a type this consumer has no handler for, or of a version it does not know."""


def _check_known(handlers: Mapping[str, EventHandler], envelope: EventEnvelope) -> None:
    spec = CATALOGUE.get(envelope.type)
    if envelope.type not in handlers or spec is None:
        raise UnknownEvent(f"no handler for {envelope.type}")
    if envelope.version != spec.version:
        raise UnknownEvent(f"{envelope.type} version {envelope.version} is not known")


def handler_timeout(job_timeout: float) -> float:
    """How long one attempt of a handler may take: a little less than arq's job timeout."""
    return job_timeout * 0.8


def _backoff(attempt: int) -> float:
    """Seconds before the next attempt: 0.5, 1, 2, ... up to 30."""
    return float(min(2 ** (attempt - 1), 60) * 0.5)


async def apply_event(
    sessionmaker: async_sessionmaker[AsyncSession],
    schema: str,
    handlers: Mapping[str, EventHandler],
    envelope: EventEnvelope,
) -> bool:
    """Apply an event once. Returns False when it had already been applied. Raises UnknownEvent,
    recording nothing, for an event this consumer does not know (it must not count as done)."""
    _check_known(handlers, envelope)
    processed = infra_for(schema).processed_events
    async with sessionmaker() as session, session.begin():
        claimed = await session.execute(
            insert(processed)
            .values(
                event_id=envelope.event_id,
                event_type=envelope.type,
                occurred_at=envelope.occurred_at,
            )
            .on_conflict_do_nothing()
            .returning(processed.c.event_id)
        )
        if claimed.first() is None:
            return False
        await handlers[envelope.type](session, envelope)
    return True


def _raw_event_id(data: Any) -> uuid.UUID:
    """The id to park undecodable job data under: its own event_id when that is a UUID, else one
    made from the data itself, so a re-sent copy is parked on the same row."""
    raw = data.get("event_id") if isinstance(data, dict) else None
    try:
        return uuid.UUID(str(raw)) if raw is not None else _uuid_of(data)
    except ValueError:
        return _uuid_of(data)


def _uuid_of(data: Any) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "rethink-event:" + json.dumps(data, sort_keys=True, default=str))


async def _park(
    ctx: dict[str, Any],
    envelope: EventEnvelope | None,
    exc: Exception,
    attempts: int,
    raw: Any = None,
) -> None:
    """Keep an event that failed every attempt, so it is replayed rather than lost. Job data that
    is not a valid envelope is kept as it came (`raw`), for inspection and a later replay."""
    dead = infra_for(ctx["schema"]).dead_events
    if envelope is not None:
        event_id, event_type, data = envelope.event_id, envelope.type, envelope.model_dump(mode="json")
    else:
        raw_type = raw.get("type") if isinstance(raw, dict) else None
        event_id, data = _raw_event_id(raw), raw if isinstance(raw, dict) else {"data": raw}
        event_type = raw_type[:100] if isinstance(raw_type, str) and raw_type else "unknown"
    async with ctx["sessionmaker"]() as session, session.begin():
        await session.execute(
            insert(dead)
            .values(
                event_id=event_id,
                event_type=event_type,
                envelope=data,
                error_type=type(exc).__name__,
                attempts=attempts,
            )
            .on_conflict_do_update(
                index_elements=[dead.c.event_id],
                set_={"error_type": type(exc).__name__, "attempts": attempts, "failed_at": func.now()},
            )
        )


async def handle_event(ctx: dict[str, Any], data: dict[str, Any]) -> str:
    loop = asyncio.get_running_loop()
    started = loop.time()
    job_timeout = float(ctx.get("job_timeout", JOB_TIMEOUT_SECONDS))
    attempt = ctx.get("job_try", 1)
    envelope: EventEnvelope | None = None
    facts: dict[str, Any] = {"attempt": attempt}
    try:
        envelope = EventEnvelope.model_validate(data)
        facts.update(event_id=str(envelope.event_id), event_type=envelope.type)
        async with asyncio.timeout(handler_timeout(job_timeout)):
            applied = await apply_event(ctx["sessionmaker"], ctx["schema"], ctx["handlers"], envelope)
    except Exception as exc:  # a handler timing out arrives here as TimeoutError, like any failure
        # Not understood (bad envelope, unknown type or version): no attempt can succeed, park now.
        unknown = envelope is None or isinstance(exc, UnknownEvent)
        if unknown or attempt >= ctx.get("max_tries", 25):
            try:
                # whatever is left of the job's time, short of arq's timeout
                async with asyncio.timeout_at(started + job_timeout * 0.95):
                    await _park(ctx, envelope, exc, attempt, raw=data)
            except Exception as park_exc:
                log.error(
                    "event could not be parked in dead_events; will try again",
                    extra={**facts, "error": type(exc).__name__, "park_error": type(park_exc).__name__},
                )
                await _keep_job(ctx)
                raise Retry(defer=_backoff(attempt)) from park_exc
            if unknown:
                # the error names the type or version; never the payload
                log.warning(
                    "event not understood by this consumer, parked in dead_events; "
                    "replay with rethink replay-dead after an upgrade",
                    extra={**facts, "error": type(exc).__name__, "reason": _reason(exc)},
                )
            else:
                log.error(
                    "event parked in dead_events after its last attempt; replay with rethink replay-dead",
                    extra={**facts, "error": type(exc).__name__},
                )
            return "dead"
        log.warning("event handler failed; will retry", extra={**facts, "error": type(exc).__name__})
        raise Retry(defer=_backoff(attempt)) from exc
    lag_hook = ctx.get("on_applied")  # observed by the worker's metrics, when it has any
    if applied and lag_hook is not None:
        lag_hook(envelope, time.time() - envelope.occurred_at.timestamp())
    return "applied" if applied else "duplicate"


def _reason(exc: Exception) -> str:
    """Why an event was not understood, without any of its values (a payload may not be logged)."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['type']}" for e in exc.errors())
    return str(exc)


async def _keep_job(ctx: dict[str, Any]) -> None:
    """arq gives a job's data a day to live from when it was queued; while the event cannot be parked
    (a long database outage), keep pushing that back, or arq would drop the job as expired."""
    redis, job_id = ctx.get("redis"), ctx.get("job_id")
    if redis is None or job_id is None:
        return
    with contextlib.suppress(Exception):
        await redis.pexpire(job_key_prefix + job_id, expires_extra_ms)


def build_worker(
    *,
    service: str,
    schema: str,
    handlers: Mapping[str, EventHandler],
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: ArqRedis,
    queue_prefix: str,
    burst: bool = False,
    max_tries: int = 25,
    max_jobs: int = 1,
    functions: list[Any] | None = None,
    cron_jobs: list[CronJob] | None = None,
    extra_ctx: dict[str, Any] | None = None,
    poll_delay: float = 0.1,
    job_timeout: float = JOB_TIMEOUT_SECONDS,
) -> Worker:
    ctx: dict[str, Any] = {
        "service": service,
        "schema": schema,
        "handlers": handlers,
        "sessionmaker": sessionmaker,
        "max_tries": max_tries,
        "job_timeout": job_timeout,
        **(extra_ctx or {}),
    }
    return Worker(
        # handle_event parks an event after max_tries itself; arq must not give up on it first
        functions=[_named(HANDLE_EVENT, handle_event, max_tries=_UNTIL_PARKED), *(functions or [])],
        cron_jobs=cron_jobs,
        # cron times (the nightly recompute at 02:30) are the authority's wall-clock times
        timezone=clock.zone(),  # type: ignore[arg-type]  # arq only calls datetime.now(tz)
        queue_name=queue_name(queue_prefix, service),
        redis_pool=redis,
        burst=burst,
        handle_signals=False,
        max_jobs=max_jobs,
        max_tries=max_tries,
        job_timeout=job_timeout,
        poll_delay=poll_delay,
        ctx=ctx,
        keep_result=3600,
        # the liveness probe reads this key (deploy/healthcheck.py); it expires if the loop hangs
        health_check_interval=10,
    )


def _named(name: str, fn: Any, max_tries: int | None = None) -> Any:
    from arq.worker import func

    return func(fn, name=name, max_tries=max_tries)


async def replay_dead_events(
    sessionmaker: async_sessionmaker[AsyncSession],
    schema: str,
    handlers: Mapping[str, EventHandler],
    event_ids: list[str] | None = None,
) -> tuple[int, int]:
    """Apply parked events again (after the fault is fixed). Returns (replayed, still failing)."""
    dead = infra_for(schema).dead_events
    async with sessionmaker() as session:
        stmt = select(dead.c.event_id, dead.c.envelope).order_by(dead.c.failed_at)
        if event_ids:
            stmt = stmt.where(dead.c.event_id.in_(event_ids))
        rows = (await session.execute(stmt)).all()
    replayed = failing = 0
    for event_id, data in rows:
        try:
            await apply_event(sessionmaker, schema, handlers, EventEnvelope.model_validate(data))
        except Exception as exc:
            failing += 1
            log.warning("replay failed", extra={"event_id": str(event_id), "error": type(exc).__name__})
            continue
        async with sessionmaker() as session, session.begin():
            await session.execute(delete(dead).where(dead.c.event_id == event_id))
        replayed += 1
    return replayed, failing
