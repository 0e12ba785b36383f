"""Test plumbing shared by every test folder: real servers, apps on httpx, event delivery."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import httpx
import redis
import redis.asyncio as aioredis
from arq.connections import ArqRedis, RedisSettings, create_pool
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.auth import issue_dev_token
from shared.consumer import build_worker
from shared.db import create_engine, create_sessionmaker
from shared.embedded import RedisProcess, env_urls, start_postgres, start_redis
from shared.events import EventEnvelope
from shared.migrate import migrate_all
from shared.registry import SERVICE_NAMES, LoadedService, load
from shared.relay import Relay
from shared.settings import ServiceSettings, asyncpg_url, plain_url

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-" + "x" * 40


@dataclass
class Servers:
    admin_url: str  # plain postgresql:// URL of the server's maintenance database
    database_url: str  # plain URL of this run's own database
    database_name: str
    redis_url: str  # this run's own Redis database (see RedisClaim)
    queue_prefix: str
    pg_handle: Any = None
    redis_process: RedisProcess | None = None
    embedded: bool = False
    redis_claim: RedisClaim | None = None

    @property
    def redis_is_private(self) -> bool:
        """No other run uses this Redis database: arq's global job keys in it are this run's."""
        return self.redis_process is not None or self.redis_claim is not None


def start_servers() -> Servers:
    db_url, redis_url = env_urls()
    pg_handle = None
    if not db_url:
        pg_handle, db_url = start_postgres(ROOT / ".rethink" / "test-pg")
    redis_proc = None
    claim = None
    if not redis_url:
        redis_proc = start_redis(None)
        redis_url = redis_proc.url
    else:
        claim = claim_redis_database(redis_url)
        if claim is not None:
            redis_url = claim.url
        else:
            warnings.warn(
                f"no free Redis database on {redis_url} for this test run: sharing it, so arq's job "
                "keys are left to expire instead of being deleted after each test",
                stacklevel=1,
            )
    run = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
    name = f"rethink_test_{run}"
    admin = plain_url(db_url)
    in_thread(asyncio.run, _create_database(admin, name))
    test_url = make_url(asyncpg_url(admin)).set(database=name).render_as_string(hide_password=False)
    in_thread(migrate_all, test_url)
    return Servers(
        admin_url=admin,
        database_url=plain_url(test_url),
        database_name=name,
        redis_url=redis_url,
        queue_prefix=f"rethink-test-{run.replace('_', '-')}",
        pg_handle=pg_handle,
        redis_process=redis_proc,
        embedded=pg_handle is not None,
        redis_claim=claim,
    )


# --- Redis: one logical database per test run ---------------------------------------------------
#
# arq keeps every job's data, retry count and result under global keys (arq:job:<id>, ...), whatever
# the queue. Runs sharing one Redis database would see, and clean away, each other's jobs; so a run
# given REDIS_URL claims a logical database of its own on that server (never the URL's own, which
# other programs use) and only ever deletes keys there. A database is claimed with a key that
# expires unless the run keeps renewing it, so a run that dies frees its database; a database that
# holds anything but test runs' keys is never taken.

CLAIM_KEY = "rethink-test:claimed-by"
RESERVED_KEY = "rethink-test:reserved"  # marks a database that test runs have used (and may clear)
CLAIM_TTL_SECONDS = 120


@dataclass
class RedisClaim:
    url: str
    db: int
    token: str
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def holds(self) -> bool:
        with self.client() as client:
            return bool(client.get(CLAIM_KEY) == self.token.encode())

    def _renew(self) -> None:
        while not self._stop.wait(CLAIM_TTL_SECONDS / 4):
            try:
                with self.client() as client:
                    if client.get(CLAIM_KEY) == self.token.encode():
                        client.expire(CLAIM_KEY, CLAIM_TTL_SECONDS)
                    else:  # lapsed while this process was stopped: take it back unless taken
                        client.set(CLAIM_KEY, self.token, nx=True, ex=CLAIM_TTL_SECONDS)
            except redis.RedisError:
                continue

    def start(self) -> None:
        self._thread = threading.Thread(target=self._renew, name=f"redis-claim-db{self.db}", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Delete this run's keys and give the database back."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        with self.client() as client:
            if client.get(CLAIM_KEY) != self.token.encode():
                return
            _clear_test_keys(client)
            if client.get(CLAIM_KEY) == self.token.encode():
                client.delete(CLAIM_KEY)


_CLAIM_KEYS = {CLAIM_KEY.encode(), RESERVED_KEY.encode()}


def _clear_test_keys(client: redis.Redis) -> None:
    """Every key of a claimed database but the claim's own markers."""
    leftovers = [k for k in client.scan_iter(count=1000) if k not in _CLAIM_KEYS]
    for i in range(0, len(leftovers), 1000):
        client.delete(*leftovers[i : i + 1000])


def redis_url_with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "db"])
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", query, parts.fragment))


def redis_url_db(url: str) -> int:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if "db" in query:
        return int(query["db"])
    path = parts.path.strip("/")
    return int(path) if path else 0


def claim_redis_database(url: str) -> RedisClaim | None:
    """Claim a logical database of its own on the server of `url` for this run, or None if none is free."""
    if urlsplit(url).scheme not in {"redis", "rediss"}:
        return None
    given = redis_url_db(url)
    token = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex}"
    try:
        with redis.Redis.from_url(url) as admin:
            count = int(admin.config_get("databases").get("databases", 16))
    except (redis.RedisError, ValueError):
        count = 16
    for db in range(1, count):
        if db == given:
            continue
        candidate = redis_url_with_db(url, db)
        try:
            with redis.Redis.from_url(candidate) as client:
                if not client.set(CLAIM_KEY, token, nx=True, ex=CLAIM_TTL_SECONDS):
                    continue  # another run's
                if not client.exists(RESERVED_KEY) and client.dbsize() > 1:
                    client.delete(CLAIM_KEY)  # someone's data: not ours to share, nor to clear
                    continue
                client.set(RESERVED_KEY, "logical database used by Rethink test runs, which clear it")
                # a run that died left its keys behind: nobody holds them any more
                _clear_test_keys(client)
        except redis.ResponseError:
            break  # SELECT refused: no more databases (or a server without them)
        claim = RedisClaim(url=candidate, db=db, token=token)
        claim.start()
        return claim
    return None


async def clean_redis(servers: Servers) -> None:
    """After each test: this run's queues, and (in its own database) every arq job key.

    On a database shared with other runs (no free database could be claimed), only this run's
    queue prefix is deleted: job keys are global, and the others' would go with them."""
    patterns = [f"{servers.queue_prefix}:*"]
    if servers.redis_is_private:
        patterns.append("arq:*")
    client = aioredis.from_url(servers.redis_url)
    try:
        keys = [k for pattern in patterns async for k in client.scan_iter(pattern, count=1000)]
        for i in range(0, len(keys), 1000):
            await client.delete(*keys[i : i + 1000])
    finally:
        await client.aclose()


def in_thread(fn: Any, *args: Any) -> Any:
    """Run blocking code that starts its own event loop (asyncio.run, Alembic) off this thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


async def _create_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def settings_for(svc: LoadedService, servers: Servers, **overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "database_url": servers.database_url,
        "redis_url": servers.redis_url,
        "jwt_secret": TEST_SECRET,
        "queue_prefix": servers.queue_prefix,
        "data_dir": ROOT / ".rethink" / "test-data",
        "log_level": "WARNING",
        "db_pool_size": 5,
        "db_max_overflow": 5,
    }
    values.update(overrides)
    return svc.settings_cls(**values)


def make_token(
    role: str, sub: str | None = None, teams: Sequence[str] = (), clusters: Sequence[str] = ()
) -> str:
    settings = ServiceSettings(jwt_secret=TEST_SECRET)
    return issue_dev_token(
        settings, role=role, sub=sub, teams=[str(t) for t in teams], clusters=list(clusters)
    )


def auth_headers(
    role: str, sub: str | None = None, teams: Sequence[str] = (), clusters: Sequence[str] = ()
) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(role, sub, teams, clusters)}"}


def client_for(app: FastAPI, name: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=f"http://{name}.test")


@dataclass
class Backbone:
    """Relays and burst workers for every service, on the test run's database and Redis."""

    servers: Servers
    services: list[LoadedService]
    engines: dict[str, AsyncEngine] = field(default_factory=dict)
    sessionmakers: dict[str, async_sessionmaker[AsyncSession]] = field(default_factory=dict)
    redis: ArqRedis | None = None

    async def start(self) -> None:
        self.redis = await create_pool(RedisSettings.from_dsn(self.servers.redis_url))
        for svc in self.services:
            engine = create_engine(asyncpg_url(self.servers.database_url), pool_size=3, max_overflow=3)
            self.engines[svc.name] = engine
            self.sessionmakers[svc.name] = create_sessionmaker(engine, service=svc.name, schema=svc.schema)

    async def stop(self) -> None:
        for engine in self.engines.values():
            await engine.dispose()
        if self.redis is not None:
            await self.redis.aclose()

    def relay(self, name: str, redis: ArqRedis | None = None) -> Relay:
        svc = next(s for s in self.services if s.name == name)
        return Relay(
            service=name,
            schema=svc.schema,
            engine=self.engines[name],
            redis=redis or self.redis,  # type: ignore[arg-type]
            queue_prefix=self.servers.queue_prefix,
        )

    def worker(self, name: str, **kwargs: Any) -> Any:
        svc = next(s for s in self.services if s.name == name)
        settings = settings_for(svc, self.servers)
        params: dict[str, Any] = {
            "service": name,
            "schema": svc.schema,
            "handlers": svc.handlers,
            "sessionmaker": self.sessionmakers[name],
            "redis": self.redis,
            "queue_prefix": self.servers.queue_prefix,
            "burst": True,
            "functions": svc.functions,
            "extra_ctx": {"settings": settings, "engine": self.engines[name]},
            "poll_delay": 0.05,
        }
        params.update(kwargs)
        return build_worker(**params)

    async def outbox_envelopes(self, name: str, event_type: str | None = None) -> list[EventEnvelope]:
        """The events a service has written to its outbox, oldest first, as consumers receive them."""
        svc = next(s for s in self.services if s.name == name)
        sql = f"select event_id, type, version, occurred_at, subject_id, payload from {svc.schema}.outbox"
        async with self.engines[name].connect() as conn:
            rows = await conn.execute(
                text(sql + (" where type = :t" if event_type else "") + " order by id"), {"t": event_type}
            )
            return [EventEnvelope(producer=name, **row._asdict()) for row in rows]

    async def deliver(self, max_rounds: int = 10) -> int:
        """Relay every committed event and run burst workers until nothing is left to do."""
        handled = 0
        for _ in range(max_rounds):
            moved = 0
            for svc in self.services:
                moved += await self.relay(svc.name).drain()
            ran = 0
            for svc in self.services:
                worker = self.worker(svc.name)
                await worker.main()
                ran += worker.jobs_complete + worker.jobs_failed
            handled += ran
            if moved == 0 and ran == 0:
                return handled
        return handled


def load_services() -> list[LoadedService]:
    return [load(n) for n in SERVICE_NAMES]
