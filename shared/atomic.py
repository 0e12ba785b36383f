"""Atomic writes: a change, its audit row and its outbox event in one SQL statement.

A write that is a single ``INSERT … RETURNING`` (or ``UPDATE … RETURNING``) can carry its audit row
and its event as data-modifying CTEs of the same statement. PostgreSQL runs a statement atomically,
so the three rows are stored together or not at all, as in a transaction, and the audit and outbox
rows exist only if the change returned a row (an UPDATE that matched nothing leaves no trace).

When the request's unit of work already has a session open (an Idempotency-Key claim, an earlier
read, a DbSession dependency), the statement runs in its transaction and commits with it.
Otherwise it runs alone on a pooled connection, committed by PostgreSQL as it completes: one round
trip instead of BEGIN, three INSERTs and COMMIT, and no ORM session. So a route should make its
atomic write its last database step: the write is kept even if the route fails afterwards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from shared import audit
from shared.auth import Principal
from shared.context import current_request_id
from shared.events import EventEnvelope, build_envelope
from shared.http import UnitOfWork
from shared.outbox import notify_channel

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@dataclass(frozen=True)
class _Compiled:
    clause: TextClause  # for a session (named parameters)
    sql: str  # for asyncpg ($n parameters)
    names: tuple[str, ...]  # the $n order


def _positional(sql: str) -> tuple[str, tuple[str, ...]]:
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PARAM.sub(number, sql), tuple(names)


@dataclass(frozen=True)
class AtomicWrite:
    """One service's change statement, wrapped with its audit row and (optionally) its event.

    ``change_sql`` returns the changed row and, last, a boolean ``created`` column (for an upsert,
    ``(xmax = 0) AS created``); the audit action is ``create`` or ``update`` accordingly.
    """

    schema: str
    change_sql: str
    resource_type: str
    emits: bool = True
    _variants: dict[bool, _Compiled] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for notify in (False, True) if self.emits else (False,):
            sql = self._statement(notify)
            positional, names = _positional(sql)
            self._variants[notify] = _Compiled(text(sql), positional, names)

    def _statement(self, notify: bool) -> str:
        s = self.schema
        parts = [
            f"WITH changed AS ({self.change_sql.strip()})",
            f"""audited AS (
    INSERT INTO {s}.audit_log (actor, role, action, resource_type, resource_id, request_id)
    SELECT :audit_actor, :audit_role, CASE WHEN changed.created THEN 'create' ELSE 'update' END,
           :audit_resource_type, :audit_resource_id, :audit_request_id
    FROM changed)""",
        ]
        if self.emits:
            parts.append(f"""emitted AS (
    INSERT INTO {s}.outbox (event_id, type, version, occurred_at, subject_id, payload)
    SELECT :event_id, :event_type, :event_version, :event_occurred_at, :event_subject_id,
           CAST(:event_payload AS jsonb)
    FROM changed)""")
        # NOTIFY is delivered at commit and dropped on rollback, like the NOTIFY statement.
        tail = ", LATERAL (SELECT pg_notify(:notify_channel, '')) AS notified" if notify else ""
        return ",\n".join(parts) + f"\nSELECT changed.* FROM changed{tail}"

    async def execute(
        self,
        uow: UnitOfWork,
        actor: Principal,
        resource_id: object,
        params: Mapping[str, Any],
        *,
        event: tuple[str, object, dict[str, Any]] | None = None,
    ) -> tuple[dict[str, Any] | None, EventEnvelope | None]:
        """Run the write; returns the changed row (None if the change matched nothing) and the
        event it emitted. ``event`` is (type, subject id, payload), checked against the catalogue."""
        info = uow.info
        values: dict[str, Any] = {
            **params,
            "audit_actor": actor.sub,
            "audit_role": actor.role.value,
            "audit_resource_type": self.resource_type,
            "audit_resource_id": str(resource_id),
            "audit_request_id": current_request_id(),
        }
        envelope = None
        if self.emits:
            if event is None:
                raise ValueError(f"the {self.resource_type} write emits an event: pass event=")
            envelope = build_envelope(info["service"], *event)
            values.update(
                event_id=envelope.event_id,
                event_type=envelope.type,
                event_version=envelope.version,
                event_occurred_at=envelope.occurred_at,
                event_subject_id=envelope.subject_id,
                event_payload=json.dumps(envelope.payload),
            )
        notify = bool(self.emits and info.get("outbox_notify"))
        if notify:
            values["notify_channel"] = notify_channel(self.schema)
        compiled = self._variants[notify]
        if uow.has_session:  # the route holds a session: write in its transaction
            found = (await uow.session.execute(compiled.clause, values)).mappings().one_or_none()
            row = dict(found) if found is not None else None
        else:
            async with uow.gate:
                args = [values[n] for n in compiled.names]
                record = await _autocommit_fetchrow(uow.engine, compiled.sql, args)
            row = dict(record) if record is not None else None
        if row is not None:  # the statement wrote its audit row
            audit.note(self.resource_type, [resource_id])
        return row, envelope


async def _autocommit_fetchrow(engine: AsyncEngine, sql: str, args: list[Any]) -> Any:
    """One statement on a pooled connection outside any transaction (PostgreSQL commits it).

    The pool's connection is used directly, without a SQLAlchemy Connection around it: that
    wrapper cost more than the statement's own client-side work.
    """
    pooled = await engine.raw_connection()
    driver: Any = pooled.driver_connection
    try:
        return await driver.fetchrow(sql, *args)
    except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError):
        # Not seen by SQLAlchemy, so tell its pool not to hand this connection out again.
        await greenlet_spawn(pooled.invalidate)
        raise
    finally:
        await greenlet_spawn(pooled.close)  # back to the pool (closing may need the driver)
