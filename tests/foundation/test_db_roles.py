"""Production's two database roles: migrations as the owner, the APIs and workers as an app role that
can read and write rows but cannot change or remove audit rows, nor switch the audit log's guard off.

Against the real server: deploy/postgres/rethink-roles.psql creates the roles in a scratch database,
`rethink migrate` runs as the owner with RETHINK_APP_DB_ROLE, then the app role is tried."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from arq.connections import RedisSettings, create_pool
from sqlalchemy import text
from sqlalchemy.engine import make_url

from shared.consumer import build_worker
from shared.db import create_engine, create_sessionmaker
from shared.grants import grant_app_role
from shared.relay import Relay
from shared.settings import asyncpg_url
from tests.support import ROOT, auth_headers, client_for, drop_database, settings_for

pytestmark = pytest.mark.backbone
ROLES_SCRIPT = ROOT / "deploy" / "postgres" / "rethink-roles.psql"
SCHEMAS = ("formulation", "goals", "metrics")
CLUSTER = {"name": "Harehills", "res_start": "2018-09-01", "co_located": False}


@dataclass
class Roles:
    database: str
    owner: str
    app: str
    owner_url: str
    app_url: str


def _url(base: str, database: str, user: str | None = None, password: str | None = None) -> str:
    url = make_url(base).set(database=database)
    if user is not None:
        url = url.set(username=user, password=password)
    return url.render_as_string(hide_password=False)


def _psql() -> str:
    found = shutil.which("psql")
    if found:
        return found
    from pgserver._commands import POSTGRES_BIN_PATH  # the embedded server's own client

    return str(Path(POSTGRES_BIN_PATH) / "psql")


@pytest.fixture
async def roles(servers) -> AsyncIterator[Roles]:  # type: ignore[no-untyped-def]
    run = uuid.uuid4().hex[:8]
    db, owner, app = f"rethink_roles_{run}", f"rethink_owner_{run}", f"rethink_app_{run}"
    admin = await asyncpg.connect(servers.admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{db}"')
        script = subprocess.run(
            [
                *(_psql(), _url(servers.admin_url, db), "-q", "-f", str(ROLES_SCRIPT)),
                *("-v", f"owner_role={owner}", "-v", f"app_role={app}"),
                *("-v", "owner_password=owner-secret", "-v", "app_password=app-secret"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert script.returncode == 0, script.stderr
        yield Roles(
            database=db,
            owner=owner,
            app=app,
            owner_url=_url(servers.admin_url, db, owner, "owner-secret"),
            app_url=_url(servers.admin_url, db, app, "app-secret"),
        )
    finally:
        await drop_database(servers.admin_url, db)
        for role in (app, owner):
            await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()


def _migrate(database_url: str, app_role: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"RETHINK_DATABASE_URL", "RETHINK_APP_DB_ROLE"}}
    env["DATABASE_URL"] = database_url
    if app_role:
        env["RETHINK_APP_DB_ROLE"] = app_role
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", "migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


async def test_app_role_writes_rows_but_cannot_alter_the_audit_log(roles, servers, services):
    migrated = _migrate(roles.owner_url, roles.app)
    assert migrated.returncode == 0, migrated.stderr[-3000:]

    # the application, logged in as the app role, works: a write with its audit row and its event,
    # relayed (outbox UPDATE) and applied by the goals consumer (processed_events, goals tables)
    formulation = next(s for s in services if s.name == "formulation")
    goals = next(s for s in services if s.name == "goals")
    api = formulation.create_app(settings_for(formulation, servers, database_url=roles.app_url))
    async with api.router.lifespan_context(api), client_for(api, "roles") as client:
        r = await client.put("/v1/clusters/ROLE-1", json=CLUSTER, headers=auth_headers("admin"))
        assert r.status_code == 201, r.text
    engine = create_engine(asyncpg_url(roles.app_url), pool_size=2, max_overflow=0)
    pool = await create_pool(RedisSettings.from_dsn(servers.redis_url))
    prefix = f"{servers.queue_prefix}:roles"
    try:
        relay = Relay(
            service="formulation", schema="formulation", engine=engine, redis=pool, queue_prefix=prefix
        )
        assert await relay.drain() == 1
        await relay.prune()
        worker = build_worker(
            service="goals",
            schema="goals",
            handlers=goals.handlers,
            sessionmaker=create_sessionmaker(engine, service="goals", schema="goals"),
            redis=pool,
            queue_prefix=prefix,
            burst=True,
            poll_delay=0.05,
        )
        await worker.main()
        assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
        async with engine.connect() as conn:
            assert await conn.scalar(text("select count(*) from goals.processed_events")) == 1
    finally:
        await pool.aclose()
        await engine.dispose()

    conn = await asyncpg.connect(roles.app_url)
    try:
        assert await conn.fetchval("select count(*) from formulation.audit_log") == 1
        for schema in SCHEMAS:
            await conn.execute(
                f"insert into {schema}.audit_log (actor, role, action, resource_type, resource_id) "
                "values ('t', 'admin', 'read', 'x', '1')"
            )
            for sql in (
                f"update {schema}.audit_log set actor = 'someone else'",
                f"delete from {schema}.audit_log",
                f"truncate {schema}.audit_log",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                    await conn.execute(sql)
            for trigger in ("audit_log_no_update_delete", "audit_log_no_truncate", "ALL"):
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner"):
                    await conn.execute(f"alter table {schema}.audit_log disable trigger {trigger}")
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner"):
                await conn.execute(f"drop trigger audit_log_no_update_delete on {schema}.audit_log")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):  # no DDL in the schemas
                await conn.execute(f"create table {schema}.scratch (id int)")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(f"update {schema}.alembic_version set version_num = 'x'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):  # the tests' own way round triggers
            await conn.execute("set session_replication_role = replica")
    finally:
        await conn.close()


async def test_migrate_refuses_an_app_role_that_owns_the_tables(roles):
    migrated = _migrate(roles.owner_url, None)  # the embedded default: no app role, no grants
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    with pytest.raises(RuntimeError, match="owns"):
        await grant_app_role(roles.owner_url, SCHEMAS, roles.owner)
    with pytest.raises(RuntimeError, match="does not exist"):
        await grant_app_role(roles.owner_url, SCHEMAS, f"{roles.app}_missing")
    # and without RETHINK_APP_DB_ROLE, the app role was given nothing
    conn = await asyncpg.connect(roles.app_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval("select count(*) from formulation.clusters")
    finally:
        await conn.close()
