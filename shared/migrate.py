"""Programmatic Alembic: upgrade every service branch (what `rethink migrate` runs)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from shared.registry import SERVICE_NAMES

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(service: str, database_url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    # Each service's revisions form their own lineage with its own version table, so Alembic
    # must only see that service's folder (otherwise the other heads look unapplied).
    cfg.set_main_option("version_locations", str(ROOT / "migrations" / "versions" / service))
    cfg.attributes["service"] = service
    cfg.attributes["database_url"] = database_url
    return cfg


def migrate_all(
    database_url: str, services: tuple[str, ...] = SERVICE_NAMES, app_role: str | None = None
) -> None:
    """Blocking (Alembic runs its own event loop): call from a thread inside async code.

    With `app_role` (RETHINK_APP_DB_ROLE), that role then gets DML on the upgraded schemas and no
    more (shared.grants), including any table these migrations added."""
    for service in services:
        command.upgrade(alembic_config(service, database_url), f"{service}@head")
    if app_role:
        import asyncio

        from shared.grants import grant_app_role
        from shared.registry import load

        asyncio.run(grant_app_role(database_url, [load(s).schema for s in services], app_role))


def make_revision(service: str, database_url: str, message: str) -> None:
    """Autogenerate the next revision of one service from its models (needs a migrated database)."""
    cfg = alembic_config(service, database_url)
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(cfg).get_heads()
    command.upgrade(cfg, f"{service}@head") if heads else None
    command.revision(
        cfg,
        message=message,
        autogenerate=True,
        head="base" if not heads else f"{service}@head",
        branch_label=service if not heads else None,
        version_path=str(ROOT / "migrations" / "versions" / service),
    )
