"""A visible side effect for backbone tests, in a schema no service owns."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.consumer import EventHandler
from shared.events import EventEnvelope
from shared.registry import LoadedService

DDL = [
    "CREATE SCHEMA IF NOT EXISTS test_support",
    "CREATE TABLE IF NOT EXISTS test_support.effects (id bigserial primary key, consumer text, "
    "event_id uuid, subject text, attempt int)",
]


async def reset_effects(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for stmt in DDL:
            await conn.execute(text(stmt))
        await conn.execute(text("TRUNCATE test_support.effects"))


async def effects(engine: AsyncEngine, consumer: str | None = None) -> list[tuple[str, str]]:
    sql = "SELECT event_id::text, subject FROM test_support.effects"
    if consumer:
        sql += f" WHERE consumer = '{consumer}'"
    async with engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(text(sql + " ORDER BY id"))).all()]  # type: ignore[misc]


def recording_handler(consumer: str, fail_first: int = 0) -> EventHandler:
    """Writes an effect row, then fails the first `fail_first` attempts (after writing)."""
    attempts: dict[str, int] = {}

    async def handler(session: AsyncSession, event: EventEnvelope) -> None:
        key = str(event.event_id)
        attempts[key] = attempts.get(key, 0) + 1
        await session.execute(
            text(
                "INSERT INTO test_support.effects (consumer, event_id, subject, attempt) "
                "VALUES (:c, :e, :s, :a)"
            ),
            {"c": consumer, "e": key, "s": event.subject_id, "a": attempts[key]},
        )
        if attempts[key] <= fail_first:
            raise RuntimeError("consumer failed half-way")

    return handler


@contextmanager
def handler_installed(svc: LoadedService, event_type: str, handler: EventHandler) -> Iterator[None]:
    previous = svc.handlers.get(event_type)
    svc.handlers[event_type] = handler
    try:
        yield
    finally:
        if previous is None:
            svc.handlers.pop(event_type, None)
        else:
            svc.handlers[event_type] = previous
