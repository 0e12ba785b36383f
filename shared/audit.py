"""Append-only audit trail: who read or changed what, written in the caller's transaction."""

from __future__ import annotations

from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal
from shared.context import current_request_id
from shared.db import session_infra

Action = Literal["create", "read", "update", "delete", "export", "list"]


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
    if not resource_ids:
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
                "resource_id": str(rid),
                "request_id": request_id,
            }
            for rid in resource_ids
        ],
    )
