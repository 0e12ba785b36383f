"""Session fixtures: real PostgreSQL and Redis (embedded unless DATABASE_URL / REDIS_URL are set)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import date

import asyncpg
import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from shared import clock
from shared.registry import LoadedService
from tests.support import (
    Backbone,
    Servers,
    auth_headers,
    clean_redis,
    client_for,
    drop_database,
    in_thread,
    load_services,
    settings_for,
    start_servers,
)

DB_FIXTURES = {
    "servers",
    "apps",
    "formulation_client",
    "goals_client",
    "metrics_client",
    "backbone",
    "deliver_events",
    "db_engine",
    "services",
}


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    srv = start_servers()
    yield srv
    in_thread(asyncio.run, drop_database(srv.admin_url, srv.database_name))
    if srv.redis_claim is not None:
        srv.redis_claim.release()
    if srv.redis_process is not None:
        srv.redis_process.stop()


@pytest.fixture(scope="session")
def services() -> list[LoadedService]:
    return load_services()


@pytest_asyncio.fixture(scope="session")
async def apps(servers: Servers, services: list[LoadedService]) -> AsyncIterator[dict[str, FastAPI]]:
    built: dict[str, FastAPI] = {}
    contexts = []
    for svc in services:
        app = svc.create_app(settings_for(svc, servers))
        ctx = app.router.lifespan_context(app)
        await ctx.__aenter__()
        contexts.append(ctx)
        built[svc.name] = app
    yield built
    for ctx in contexts:
        await ctx.__aexit__(None, None, None)


@pytest_asyncio.fixture(scope="session")
async def backbone(servers: Servers, services: list[LoadedService]) -> AsyncIterator[Backbone]:
    bb = Backbone(servers, services)
    await bb.start()
    yield bb
    await bb.stop()


@pytest_asyncio.fixture(scope="session")
async def db_engine(backbone: Backbone):  # type: ignore[no-untyped-def]
    return backbone.engines["formulation"]


@pytest.fixture(autouse=True)
def _one_day_per_test() -> Iterator[None]:
    """A test and the services it calls agree on "today" from start to end, across midnight too.
    RETHINK_TEST_TODAY=YYYY-MM-DD runs the suite as if on that day (year and month ends)."""
    day = os.environ.get("RETHINK_TEST_TODAY")
    with clock.pinned(date.fromisoformat(day) if day else clock.today()):
        yield


@pytest.fixture(autouse=True)
def _clean_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test that touches the servers starts from empty tables and empty queues."""
    if not DB_FIXTURES.intersection(request.fixturenames):
        yield
        return
    srv: Servers = request.getfixturevalue("servers")
    svcs: list[LoadedService] = request.getfixturevalue("services")
    yield
    tables = [f'"{svc.schema}"."{t.name}"' for svc in svcs for t in svc.metadata.sorted_tables]
    in_thread(asyncio.run, _truncate(srv, tables))


async def _truncate(srv: Servers, tables: list[str]) -> None:
    conn = await asyncpg.connect(srv.database_url)
    try:
        async with conn.transaction():
            # replica role skips the audit log's append-only triggers, for test cleanup only
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    await clean_redis(srv)


@pytest_asyncio.fixture
async def formulation_client(apps: dict[str, FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(apps["formulation"], "formulation") as client:
        yield client


@pytest_asyncio.fixture
async def goals_client(apps: dict[str, FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(apps["goals"], "goals") as client:
        yield client


@pytest_asyncio.fixture
async def metrics_client(apps: dict[str, FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(apps["metrics"], "metrics") as client:
        yield client


@pytest.fixture
def auth() -> Callable[..., dict[str, str]]:
    def make(
        role: str,
        sub: str | None = None,
        teams: Sequence[object] = (),
        clusters: Sequence[str] = (),
    ) -> dict[str, str]:
        return auth_headers(role, sub, [str(t) for t in teams], clusters)

    return make


@pytest.fixture
def deliver_events(backbone: Backbone) -> Callable[..., object]:
    return backbone.deliver
