"""Alembic environment: one branch and one version table per service schema.

Run for one service at a time (`-x service=goals`, or `rethink migrate` for all): the service's
schema is created if missing, its version table lives inside it, and autogenerate only looks there.
"""

import asyncio
import os
import zlib

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.registry import load
from shared.settings import asyncpg_url

config = context.config
service_name = config.attributes.get("service") or context.get_x_argument(as_dictionary=True).get("service")
if not service_name:
    raise SystemExit("choose a service: alembic -x service=formulation|goals|metrics ...")
service = load(service_name)
SCHEMA = service.schema
target_metadata = service.metadata


def _url() -> str:
    url = config.attributes.get("database_url") or os.environ.get(
        "RETHINK_DATABASE_URL", os.environ.get("DATABASE_URL")
    )
    if not url:
        raise SystemExit("DATABASE_URL is not set")
    return asyncpg_url(url)


def _include_name(name, type_, parent_names):  # type: ignore[no-untyped-def]
    if type_ == "schema":
        return name == SCHEMA
    return True


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=SCHEMA,
        include_schemas=True,
        include_name=_include_name,
        compare_type=True,
    )


def _run(connection: Connection) -> None:
    # Serialise concurrent migrators (several replicas starting at once).
    connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": zlib.crc32(SCHEMA.encode())})
    try:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"'))
        connection.commit()
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": zlib.crc32(SCHEMA.encode())})
        connection.commit()


async def _run_async() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        version_table_schema=SCHEMA,
        literal_binds=True,
        include_schemas=True,
        include_name=_include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
