"""The transactional outbox: an event is stored in the same transaction as the change it reports."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import session_infra, session_service
from shared.events import EventEnvelope, build_envelope


def notify_channel(schema: str) -> str:
    return f"rethink_outbox_{schema}"


async def emit(
    session: AsyncSession, event_type: str, *, subject_id: object, payload: dict[str, Any]
) -> EventEnvelope:
    infra = session_infra(session)
    envelope = build_envelope(session_service(session), event_type, subject_id, payload)  # type: ignore[arg-type]
    # One statement object per table, parameters passed separately: SQLAlchemy then reuses its
    # compiled form instead of coercing fresh .values() on every write (a hot path).
    await session.execute(
        infra.outbox_insert,
        {
            "event_id": envelope.event_id,
            "type": envelope.type,
            "version": envelope.version,
            "occurred_at": envelope.occurred_at,
            "subject_id": envelope.subject_id,
            "payload": envelope.payload,
        },
    )
    if session.info.get("outbox_notify"):
        # NOTIFY is delivered at commit (and dropped on rollback): it wakes the relay exactly when
        # the row becomes visible, at the price of serialised commits.
        await session.execute(text(f"NOTIFY {notify_channel(infra.schema)}"))
    return envelope
