"""The worker process: each service's relay, and an arq worker consuming each service's queue."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from arq.connections import RedisSettings, create_pool

from shared import clock
from shared.consumer import build_worker
from shared.db import create_engine, create_sessionmaker
from shared.registry import LoadedService, load
from shared.relay import Relay

log = logging.getLogger("rethink.worker")


async def run_workers(service_names: Sequence[str], stop: asyncio.Event) -> None:
    services: list[LoadedService] = [load(n) for n in service_names]
    relays: list[asyncio.Task[None]] = []
    workers: list[asyncio.Task[None]] = []
    cleanups = []
    for svc in services:
        settings = svc.settings()
        clock.configure(settings.timezone)
        engine = create_engine(
            settings.require_database_url(),
            pool_size=5,
            max_overflow=5,
            pre_ping=settings.db_pool_pre_ping,
        )
        sessionmaker = create_sessionmaker(
            engine, service=svc.name, schema=svc.schema, outbox_notify=settings.outbox_notify
        )
        redis = await create_pool(RedisSettings.from_dsn(settings.require_redis_url()))
        relay = Relay(
            service=svc.name,
            schema=svc.schema,
            engine=engine,
            redis=redis,
            queue_prefix=settings.queue_prefix,
            batch_size=settings.relay_batch_size,
        )
        worker = build_worker(
            service=svc.name,
            schema=svc.schema,
            handlers=svc.handlers,
            sessionmaker=sessionmaker,
            redis=redis,
            queue_prefix=settings.queue_prefix,
            max_tries=settings.consumer_max_tries,
            max_jobs=settings.consumer_concurrency,
            functions=svc.functions,
            cron_jobs=svc.cron_jobs,
            extra_ctx={"settings": settings, "engine": engine},
            poll_delay=settings.consumer_poll_seconds,
        )
        relays.append(
            asyncio.create_task(
                relay.run_forever(
                    poll_seconds=settings.relay_poll_seconds,
                    stop=stop,
                    listen=settings.outbox_notify,
                )
            )
        )
        workers.append(asyncio.create_task(worker.async_run()))
        cleanups.append((worker, engine))
        log.info("worker started", extra={"service": svc.name})
    await stop.wait()
    # Relays finish their batch first (they share the Redis pool the workers close).
    await asyncio.wait(relays, timeout=15)
    for task in workers:
        task.cancel()
    await asyncio.gather(*workers, *relays, return_exceptions=True)
    for worker, engine in cleanups:
        await worker.close()
        await engine.dispose()
