"""Idempotent event consumption inside arq workers.

The processed-events row is written in the same transaction as the handler's effect: a redelivered
event finds the row and does nothing; a handler that fails half-way rolls back both, and arq retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from arq import Retry
from arq.connections import ArqRedis
from arq.cron import CronJob
from arq.worker import Worker
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import infra_for
from shared.events import EventEnvelope
from shared.queues import queue_name
from shared.relay import HANDLE_EVENT

log = logging.getLogger("rethink.consumer")
EventHandler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]


async def apply_event(
    sessionmaker: async_sessionmaker[AsyncSession],
    schema: str,
    handlers: Mapping[str, EventHandler],
    envelope: EventEnvelope,
) -> bool:
    """Apply an event once. Returns False when it had already been applied."""
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
        handler = handlers.get(envelope.type)
        if handler is not None:
            await handler(session, envelope)
    return True


async def handle_event(ctx: dict[str, Any], data: dict[str, Any]) -> str:
    envelope = EventEnvelope.model_validate(data)
    try:
        applied = await apply_event(ctx["sessionmaker"], ctx["schema"], ctx["handlers"], envelope)
    except Exception as exc:
        attempt = ctx.get("job_try", 1)
        log.warning(
            "event handler failed; will retry",
            extra={
                "event_id": str(envelope.event_id),
                "event_type": envelope.type,
                "attempt": attempt,
                "error": type(exc).__name__,
            },
        )
        raise Retry(defer=min(2 ** (attempt - 1), 60) * 0.5) from exc
    lag_hook = ctx.get("on_applied")
    if applied and lag_hook is not None:
        lag_hook(envelope, time.time() - envelope.occurred_at.timestamp())
    return "applied" if applied else "duplicate"


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
) -> Worker:
    ctx: dict[str, Any] = {
        "service": service,
        "schema": schema,
        "handlers": handlers,
        "sessionmaker": sessionmaker,
        **(extra_ctx or {}),
    }
    return Worker(
        functions=[_named(HANDLE_EVENT, handle_event), *(functions or [])],
        cron_jobs=cron_jobs,
        queue_name=queue_name(queue_prefix, service),
        redis_pool=redis,
        burst=burst,
        handle_signals=False,
        max_jobs=max_jobs,
        max_tries=max_tries,
        poll_delay=poll_delay,
        ctx=ctx,
        keep_result=3600,
        # the liveness probe reads this key (deploy/healthcheck.py); it expires if the loop hangs
        health_check_interval=10,
    )


def _named(name: str, fn: Any) -> Any:
    from arq.worker import func

    return func(fn, name=name)
