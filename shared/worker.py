"""The worker process: each service's relay, and an arq worker consuming each service's queue.

arq's consumer loop ends, with the Redis error, when Redis goes away; the relays wait an outage out
on their own. So each consumer loop is supervised: one that ends is logged and started again after
a growing pause (an outage heals by itself), and one that keeps ending is given up on, which stops
the process with an error so that its supervisor (Compose, Kubernetes) restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from arq.connections import RedisSettings, create_pool
from arq.worker import Worker

from shared import clock
from shared.consumer import build_worker
from shared.db import create_engine, create_sessionmaker
from shared.registry import LoadedService, load
from shared.relay import Relay

log = logging.getLogger("rethink.worker")


class WorkerFailed(RuntimeError):
    """A relay or consumer loop could not be kept running: the process should exit non-zero."""


@dataclass(frozen=True)
class RestartPolicy:
    """Pauses before a stopped consumer loop is started again: first, doubling up to max. After
    `give_up_after` stops in a row the worker gives up; a loop that ran `healthy_after_seconds`
    before it stopped starts the count again."""

    first_seconds: float = 0.5
    max_seconds: float = 30.0
    give_up_after: int = 10  # about 2 minutes of failing restarts at the defaults
    healthy_after_seconds: float = 60.0

    def pause(self, failures: int) -> float:
        return float(min(self.first_seconds * 2 ** (failures - 1), self.max_seconds))


class SupervisedConsumer:
    """One service's arq consumer loop, started again (a new Worker on the same Redis pool) when it
    ends while the process is running."""

    def __init__(self, service: str, make_worker: Callable[[], Worker], policy: RestartPolicy) -> None:
        self.service = service
        self.make_worker = make_worker
        self.policy = policy
        self.worker = make_worker()

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            started = loop.time()
            try:
                await self.worker.async_run()
                error = "LoopEnded"  # a worker that is not in burst mode only ends by failing
            except Exception as exc:
                error = type(exc).__name__
            # its jobs in hand are separate tasks: let them finish (each is bounded by the job
            # timeout) before a new loop may pick up the jobs behind them
            await asyncio.gather(*self.worker.tasks.values(), return_exceptions=True)
            if stop.is_set():
                return
            if loop.time() - started >= self.policy.healthy_after_seconds:
                failures = 0
            failures += 1
            # the service and the error's type only: an error's text may quote job data
            facts = {"service": self.service, "error": error, "failures": failures}
            if failures >= self.policy.give_up_after:
                log.error("event consumer stopped again; giving up, the worker exits", extra=facts)
                raise WorkerFailed(f"the {self.service} event consumer keeps stopping ({error})")
            pause = self.policy.pause(failures)
            log.error("event consumer stopped; restarting it", extra={**facts, "restart_in_seconds": pause})
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await stop.wait()
            if stop.is_set():
                return
            self.worker = self.make_worker()


async def run_workers(
    service_names: Sequence[str], stop: asyncio.Event, *, restart: RestartPolicy | None = None
) -> None:
    """Run until `stop` is set; raises WorkerFailed, after stopping the rest, when a loop dies."""
    services: list[LoadedService] = [load(n) for n in service_names]
    policy = restart or RestartPolicy()
    relays: list[asyncio.Task[None]] = []
    workers: list[asyncio.Task[None]] = []
    cleanups: list[tuple[SupervisedConsumer, Any]] = []
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
        make_worker = functools.partial(
            build_worker,
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
        consumer = SupervisedConsumer(svc.name, make_worker, policy)
        relays.append(
            asyncio.create_task(
                relay.run_forever(
                    poll_seconds=settings.relay_poll_seconds,
                    stop=stop,
                    listen=settings.outbox_notify,
                ),
                name=f"{svc.name} relay",
            )
        )
        workers.append(asyncio.create_task(consumer.run(stop), name=f"{svc.name} consumer"))
        cleanups.append((consumer, engine))
        log.info("worker started", extra={"service": svc.name})
    stopping = asyncio.ensure_future(stop.wait())
    # a relay or a supervised consumer only ends before `stop` when it could not be kept running
    await asyncio.wait({stopping, *relays, *workers}, return_when=asyncio.FIRST_COMPLETED)
    failed = [t for t in (*relays, *workers) if t.done() and not stop.is_set()]
    for task in failed:
        exc = None if task.cancelled() else task.exception()
        error = "LoopEnded" if exc is None else type(exc).__name__
        log.error("worker loop ended; stopping the worker", extra={"loop": task.get_name(), "error": error})
    stop.set()
    await stopping
    # Relays finish their batch first (they share the Redis pool the workers close).
    await asyncio.wait(relays, timeout=15)
    for task in workers:
        task.cancel()
    await asyncio.gather(*workers, *relays, return_exceptions=True)
    for consumer, engine in cleanups:
        try:
            await consumer.worker.close()
        except Exception as exc:  # Redis is down: its health-check key expires on its own
            log.warning(
                "consumer not closed cleanly",
                extra={"service": consumer.service, "error": type(exc).__name__},
            )
        await engine.dispose()
    if failed:
        names = ", ".join(t.get_name() for t in failed)
        raise WorkerFailed(f"could not be kept running: {names} (see the log)")
