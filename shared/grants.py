"""Privileges of the application's database role (`RETHINK_APP_DB_ROLE`), applied by `rethink migrate`.

Production runs migrations as the role that owns the schemas and the APIs and workers as another
role with data rights only. The audit log is append-only by its triggers; a table's owner could
disable them (ALTER TABLE ... DISABLE TRIGGER), so the application must not be its owner, and is
refused UPDATE, DELETE and TRUNCATE on it by the grants as well.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from shared.settings import plain_url

# Every schema's append-only tables.
AUDIT_TABLES = ("audit_log",)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def grant_app_role(database_url: str, schemas: Sequence[str], role: str) -> None:
    """Give `role` SELECT, INSERT, UPDATE and DELETE on every table of `schemas` (INSERT and SELECT
    only on the audit logs), the use of their sequences, and nothing else. Idempotent: run after
    every upgrade, so tables a new revision adds are covered."""
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        found = await conn.fetchrow("SELECT rolsuper FROM pg_roles WHERE rolname = $1", role)
        if found is None:
            raise RuntimeError(
                f"RETHINK_APP_DB_ROLE: role {role!r} does not exist; create it first "
                "(deploy/postgres/rethink-roles.psql)"
            )
        if found["rolsuper"]:
            raise RuntimeError(f"RETHINK_APP_DB_ROLE: {role!r} is a superuser, which no grant limits")
        r = _ident(role)
        async with conn.transaction():
            for schema in schemas:
                owning = await conn.fetchval(
                    "SELECT count(*) FROM pg_namespace n WHERE n.nspname = $1 "
                    "AND (pg_has_role($2, n.nspowner, 'USAGE') OR EXISTS ("
                    "  SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid"
                    "  AND pg_has_role($2, c.relowner, 'USAGE')))",
                    schema,
                    role,
                )
                if owning:
                    raise RuntimeError(
                        f"RETHINK_APP_DB_ROLE: {role!r} owns (or acts as the owner of) schema {schema!r} "
                        "or its tables; migrate as a separate owner role"
                    )
                s = _ident(schema)
                await conn.execute(f"GRANT USAGE ON SCHEMA {s} TO {r}")
                await conn.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}")
                await conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}")
                await conn.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}")
                await conn.execute(f"REVOKE ALL ON {s}.alembic_version FROM {r}")
                for table in AUDIT_TABLES:
                    await conn.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {s}.{_ident(table)} FROM {r}")
    finally:
        await conn.close()
