"""Append-only audit trail: who read or changed what, written in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal
from shared.context import current_request_id
from shared.db import session_infra

# "replay": an Idempotency-Key replay gave a stored response out again (shared.http).
Action = Literal["create", "read", "update", "delete", "export", "list", "replay"]

# The (resource_type, resource_id) pairs the current request audits, while an Idempotency-Key claim
# collects them: a later replay of its response is audited against the same resources.
_collected: ContextVar[list[tuple[str, str]] | None] = ContextVar("audit_collected", default=None)


@contextmanager
def collecting() -> Iterator[list[tuple[str, str]]]:
    pairs: list[tuple[str, str]] = []
    token = _collected.set(pairs)
    try:
        yield pairs
    finally:
        _collected.reset(token)


def _collect(resources: Iterable[tuple[str, str]]) -> None:
    pairs = _collected.get()
    if pairs is not None:
        pairs.extend(resources)


def note(resource_type: str, resource_ids: list[object]) -> None:
    """Tell a collector about audit rows written some other way (shared.atomic's statement)."""
    _collect((resource_type, str(rid)) for rid in resource_ids)


async def record(
    session: AsyncSession,
    actor: Principal,
    action: Action,
    resource_type: str,
    resource_id: object,
) -> None:
    await record_many(session, actor, action, resource_type, [resource_id])


async def record_many(
    session: AsyncSession,
    actor: Principal,
    action: Action,
    resource_type: str,
    resource_ids: list[object],
) -> None:
    """One row per resource, so a list read of ten families leaves ten read rows."""
    await record_pairs(session, actor, action, [(resource_type, str(rid)) for rid in resource_ids])


async def record_pairs(
    session: AsyncSession, actor: Principal, action: Action, resources: list[tuple[str, str]]
) -> None:
    """One row per (resource_type, resource_id)."""
    if not resources:
        return
    request_id = current_request_id()
    await session.execute(
        session_infra(session).audit_insert,
        [
            {
                "actor": actor.sub,
                "role": actor.role.value,
                "action": action,
                "resource_type": resource_type,
                "resource_id": resource_id,
                "request_id": request_id,
            }
            for resource_type, resource_id in resources
        ],
    )
    _collect(resources)
