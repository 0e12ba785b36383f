"""The relay: moves committed outbox rows to the consumers' arq queues.

One relay per producer holds a transaction-scoped advisory lock while it works, so several relay
processes can run (for availability) without interleaving: rows leave in outbox id order, and a row
is marked published in the same transaction that held the lock. A crash after enqueueing but before
that commit re-sends the rows; arq's job id and the consumers' processed-events table absorb it.

A row whose type this relay's catalogue does not know (written by a newer producer during a rolling
deploy) is neither sent nor marked published: it stays in the outbox, logged as an error once per
relay process, for a relay that knows it; the rows behind it still leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from arq.connections import ArqRedis
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db import infra_for
from shared.events import CATALOGUE, EventEnvelope
from shared.outbox import notify_channel
from shared.queues import job_id, queue_name
from shared.settings import plain_url

log = logging.getLogger("rethink.relay")
PRUNE_EVERY_SECONDS = 600
HANDLE_EVENT = "handle_event"


def _lock_key(schema: str) -> int:
    return zlib.crc32(f"rethink-relay:{schema}".encode())


class Relay:
    def __init__(
        self,
        *,
        service: str,
        schema: str,
        engine: AsyncEngine,
        redis: ArqRedis,
        queue_prefix: str,
        batch_size: int = 500,
    ) -> None:
        self.service = service
        self.schema = schema
        self.engine = engine
        self.redis = redis
        self.queue_prefix = queue_prefix
        self.batch_size = batch_size
        self.outbox = infra_for(schema).outbox
        self._unknown_logged: set[int] = set()

    async def run_once(self) -> int:
        """Relay one batch. Returns how many events were published (0 if another relay holds the lock)."""
        async with self.engine.connect() as conn, conn.begin():
            locked = await conn.scalar(select(func.pg_try_advisory_xact_lock(_lock_key(self.schema))))
            if not locked:
                return 0
            unpublished = self.outbox.c.published_at.is_(None)
            await self._log_unknown(conn, unpublished)
            rows = (
                await conn.execute(
                    select(self.outbox)
                    .where(unpublished, self.outbox.c.type.in_(list(CATALOGUE)))
                    .order_by(self.outbox.c.id)
                    .limit(self.batch_size)
                )
            ).all()
            if not rows:
                return 0
            for row in rows:
                await self._enqueue(row)
            await conn.execute(
                update(self.outbox)
                .where(self.outbox.c.id.in_([r.id for r in rows]))
                .values(published_at=datetime.now(UTC))
            )
        return len(rows)

    async def _log_unknown(self, conn: AsyncConnection, unpublished: Any) -> None:
        """Rows of a type this relay does not know stay unpublished; say so once for each."""
        rows = await conn.execute(
            select(self.outbox.c.id, self.outbox.c.event_id, self.outbox.c.type)
            .where(unpublished, self.outbox.c.type.not_in(list(CATALOGUE)))
            .order_by(self.outbox.c.id)
            .limit(100)
        )
        for row in rows:
            if row.id in self._unknown_logged:
                continue
            self._unknown_logged.add(row.id)
            log.error(
                "outbox event of a type this relay does not know; left unpublished for a relay that does",
                extra={
                    "service": self.service,
                    "event_id": str(row.event_id),
                    "event_type": row.type,
                    "outbox_id": row.id,
                },
            )

    async def _enqueue(self, row: Any) -> None:
        envelope = EventEnvelope(
            event_id=row.event_id,
            type=row.type,
            version=row.version,
            occurred_at=row.occurred_at,
            producer=self.service,
            subject_id=row.subject_id,
            payload=row.payload,
        )
        consumers = CATALOGUE[envelope.type].consumers  # run_once selects known types only
        data = envelope.model_dump(mode="json")
        for consumer in consumers:
            await self.redis.enqueue_job(
                HANDLE_EVENT,
                data,
                _job_id=job_id(consumer, envelope.event_id, row.id),
                _queue_name=queue_name(self.queue_prefix, consumer),
            )

    async def prune(
        self,
        *,
        outbox_days: float = 7,
        processed_days: float = 30,
        idempotency_hours: float = 24,
    ) -> dict[str, int]:
        """Housekeeping: relayed outbox rows, old processed-event ids and expired idempotency keys.

        Processed-event ids are kept far longer than arq can redeliver a job (its results live an
        hour), so dropping them cannot let a duplicate through.
        """
        infra = infra_for(self.schema)
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            # Relayed rows that occurred before the cutoff (relayed within moments of occurring):
            # occurred_at carries the index; published_at only says the row has gone.
            outbox = await conn.execute(
                delete(infra.outbox).where(
                    infra.outbox.c.occurred_at < now - timedelta(days=outbox_days),
                    infra.outbox.c.published_at.is_not(None),
                )
            )
            processed = await conn.execute(
                delete(infra.processed_events).where(
                    infra.processed_events.c.processed_at < now - timedelta(days=processed_days)
                )
            )
            keys = await conn.execute(
                delete(infra.idempotency_keys).where(
                    infra.idempotency_keys.c.created_at < now - timedelta(hours=idempotency_hours)
                )
            )
        return {
            "outbox": outbox.rowcount,
            "processed_events": processed.rowcount,
            "idempotency_keys": keys.rowcount,
        }

    async def drain(self) -> int:
        total = 0
        while (n := await self.run_once()) > 0:
            total += n
        return total

    async def run_forever(self, *, poll_seconds: float, stop: asyncio.Event, listen: bool = False) -> None:
        """Relay until `stop` is set: a short poll, or woken by NOTIFY at commit when `listen`."""
        wake = asyncio.Event()
        listener: asyncpg.Connection | None = None
        backoff = 0.5
        next_prune = 0.0
        while not stop.is_set():
            if time.monotonic() >= next_prune:
                next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                try:
                    await self.prune()
                except Exception as exc:
                    log.warning("prune failed", extra={"service": self.service, "error": type(exc).__name__})
            if listen and (listener is None or listener.is_closed()):
                listener = await self._listen(wake)
            try:
                await self.drain()
                backoff = 0.5
            except Exception as exc:  # Redis or PostgreSQL down: keep rows, retry later
                log.warning("relay paused", extra={"service": self.service, "error": type(exc).__name__})
                await _wait(stop, backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll_seconds):
                    stop_task = asyncio.ensure_future(stop.wait())
                    wake_task = asyncio.ensure_future(wake.wait())
                    try:
                        await asyncio.wait({stop_task, wake_task}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        stop_task.cancel()
                        wake_task.cancel()
        if listener is not None and not listener.is_closed():
            await listener.close()

    async def _listen(self, wake: asyncio.Event) -> asyncpg.Connection | None:
        try:
            url = plain_url(self.engine.url.render_as_string(hide_password=False))
            conn = await asyncpg.connect(url, timeout=5)
            await conn.add_listener(notify_channel(self.schema), lambda *_: wake.set())
            return conn
        except Exception as exc:
            log.warning("relay listen failed", extra={"service": self.service, "error": type(exc).__name__})
            return None


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()
