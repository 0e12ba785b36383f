"""The database a one-shot command (import, migrate, replay-dead) works on: DATABASE_URL when set,
else the embedded PostgreSQL that `rethink dev` uses (same data folder), attached to while dev runs
or started for the command and stopped after it, and brought to the latest schema first."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from shared import embedded
from shared.settings import ServiceSettings, asyncpg_url


class NoDatabase(RuntimeError):
    """No DATABASE_URL, and no embedded server to fall back on (production)."""


def embedded_pgdata(settings: ServiceSettings) -> Path:
    """The embedded server's data folder: the one `rethink dev` starts."""
    return settings.data_dir.resolve() / "pg"


@contextlib.contextmanager
def database_url(settings: ServiceSettings, *, migrate: bool = True) -> Iterator[str]:
    """The (asyncpg) URL to work on, for the length of the block."""
    if settings.database_url:
        yield asyncpg_url(settings.database_url)
        return
    if settings.env == "production":
        raise NoDatabase("DATABASE_URL is not set")
    pgdata = embedded_pgdata(settings)
    # pgserver counts the processes holding a data folder's server: this command's handle stops it
    # only when no other process (a running `rethink dev`) holds it too.
    handle, url = embedded.start_postgres(pgdata)
    try:
        print(f"PostgreSQL (embedded, pgserver): data in {pgdata}", file=sys.stderr)
        if migrate:
            from shared.migrate import migrate_all

            migrate_all(asyncpg_url(url))
        yield asyncpg_url(url)
    finally:
        handle.cleanup()
