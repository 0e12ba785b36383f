"""Migrations run forward from an empty database, and match the models exactly."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import pool, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from shared.migrate import migrate_all
from shared.registry import SERVICE_NAMES, load
from shared.settings import asyncpg_url
from tests.support import drop_database


async def test_migrations_from_empty_and_no_drift(servers) -> None:
    name = f"rethink_mig_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(servers.admin_url)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = make_url(asyncpg_url(servers.admin_url)).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(migrate_all, url)
        await asyncio.to_thread(migrate_all, url)  # a second run is a no-op
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as c:
            schemas = set(
                (await c.execute(text("select schema_name from information_schema.schemata"))).scalars()
            )
            assert set(SERVICE_NAMES) <= schemas
            for svc_name in SERVICE_NAMES:
                svc = load(svc_name)
                version = await c.scalar(text(f'select version_num from "{svc.schema}".alembic_version'))
                assert version

                def diff(sync_conn, svc=svc):  # type: ignore[no-untyped-def]
                    ctx = MigrationContext.configure(
                        sync_conn,
                        opts={
                            "include_schemas": True,
                            "version_table_schema": svc.schema,
                            "include_name": lambda n, t, p, s=svc.schema: n == s if t == "schema" else True,
                            "compare_type": True,
                        },
                    )
                    return compare_metadata(ctx, svc.metadata)

                assert await c.run_sync(diff) == [], f"{svc_name}: models and migrations differ"
        await engine.dispose()
    finally:
        await drop_database(servers.admin_url, name)
