"""Database plumbing: per-service declarative bases, engines, sessions and the infra tables."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Insert,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Uuid,
    event,
    exc,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


@dataclass(frozen=True)
class InfraTables:
    """The backbone tables every service has in its own schema."""

    schema: str
    outbox: Table
    processed_events: Table
    audit_log: Table
    idempotency_keys: Table
    dead_events: Table

    @property
    def outbox_insert(self) -> Insert:
        return _OUTBOX_INSERTS.setdefault(self.schema, self.outbox.insert())

    @property
    def audit_insert(self) -> Insert:
        return _AUDIT_INSERTS.setdefault(self.schema, self.audit_log.insert())


def _infra_tables(metadata: MetaData, schema: str) -> InfraTables:
    ts = DateTime(timezone=True)
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("type", String(100), nullable=False),
        Column("version", Integer, nullable=False),
        Column("occurred_at", ts, nullable=False),
        Column("subject_id", String(100), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("published_at", ts, nullable=True),
        Index(
            "ix_outbox_unpublished",
            "id",
            postgresql_where=text("published_at IS NULL"),
        ),
        # Housekeeping finds old rows by these BRIN indexes (a few pages, next to free to keep up
        # on append-only tables) instead of scanning the table every ten minutes. The outbox's is
        # on occurred_at, never updated, so the relay's UPDATE of published_at stays HOT.
        Index("ix_outbox_occurred_brin", "occurred_at", postgresql_using="brin"),
    )
    processed = Table(
        "processed_events",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("event_type", String(100), nullable=False),
        Column("occurred_at", ts, nullable=False),
        Column("processed_at", ts, nullable=False, server_default=func.now()),
        Index("ix_processed_events_processed_brin", "processed_at", postgresql_using="brin"),
    )
    audit = Table(
        "audit_log",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("occurred_at", ts, nullable=False, server_default=func.now()),
        Column("actor", String(200), nullable=False),
        Column("role", String(40), nullable=False),
        Column("action", String(20), nullable=False),
        Column("resource_type", String(60), nullable=False),
        Column("resource_id", String(100), nullable=False),
        Column("request_id", String(64), nullable=True),
        Index("ix_audit_log_resource", "resource_type", "resource_id"),
    )
    idem = Table(
        "idempotency_keys",
        metadata,
        Column("actor", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("request_hash", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("content_type", String(100), nullable=False),
        Column("response_body", LargeBinary, nullable=False),
        # The response headers a replay must give back too (shared.http.REPLAYED_HEADERS).
        Column("response_headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        # Role, teams and clusters of the token the response was made for (Principal.scope_fingerprint):
        # a replay is given only to the same. Rows from before it was kept match no token.
        Column("principal_fingerprint", String(64), nullable=False, server_default=text("''")),
        # [resource_type, resource_id] pairs the request audited; a replay is audited against them.
        Column("audited", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
        Column("created_at", ts, nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("actor", "key"),
        Index("ix_idempotency_keys_created_brin", "created_at", postgresql_using="brin"),
    )
    dead = Table(
        "dead_events",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("event_type", String(100), nullable=False),
        Column("envelope", JSONB, nullable=False),
        Column("error_type", String(200), nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("failed_at", ts, nullable=False, server_default=func.now()),
    )
    return InfraTables(schema, outbox, processed, audit, idem, dead)


_INFRA: dict[str, InfraTables] = {}
_OUTBOX_INSERTS: dict[str, Insert] = {}
_AUDIT_INSERTS: dict[str, Insert] = {}


def make_metadata(schema: str) -> MetaData:
    """The MetaData of one service schema, with the naming convention and the backbone tables.

    Each service declares `class Base(DeclarativeBase): metadata = make_metadata("<schema>")`.
    """
    metadata = MetaData(schema=schema, naming_convention=NAMING_CONVENTION)
    _INFRA[schema] = _infra_tables(metadata, schema)
    return metadata


def infra_for(schema: str) -> InfraTables:
    return _INFRA[schema]


def create_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 10, pre_ping: bool = False
) -> AsyncEngine:
    # hide_parameters: a database error's message must not carry row values (personal data) into logs.
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=pre_ping,
        hide_parameters=True,
    )
    event.listen(engine.sync_engine, "checkout", _discard_closed_connection)
    return engine


def _discard_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A free stand-in for pre-ping: when PostgreSQL restarts it closes every socket, and asyncpg
    marks the connection closed as soon as the event loop sees that. Such a connection is
    replaced at checkout instead of failing the request that drew it. (A round-trip ping on every
    checkout, `RETHINK_DB_POOL_PRE_PING`, also catches a peer that vanished without closing.)"""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise exc.DisconnectionError("connection closed by the server")


class ConnectionGate:
    """Lets at most as many requests use the database at once as the pool has connections; the
    rest wait here, in arrival order.

    SQLAlchemy's async pool turns every waiter into a task with a timeout, which under sustained
    load cost more than the query itself and spread latencies widely; waiting on a semaphore costs
    next to nothing. A request that waits longer than ``timeout`` gets a 503.
    """

    def __init__(self, size: int, timeout: float = 30.0) -> None:
        self.size = size
        self.timeout = timeout
        self._slots = asyncio.Semaphore(size)

    async def acquire(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # a free slot: no waiting, no timer
            return
        try:
            async with asyncio.timeout(self.timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise DatabaseBusy(self.timeout) from None

    def release(self) -> None:
        self._slots.release()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *_exc: object) -> None:
        self.release()


class DatabaseBusy(Exception):
    def __init__(self, waited: float) -> None:
        super().__init__(f"no database connection free within {waited:.0f} s")
        self.waited = waited


def create_sessionmaker(
    engine: AsyncEngine, *, service: str, schema: str, outbox_notify: bool = False
) -> async_sessionmaker[AsyncSession]:
    info: dict[str, Any] = {
        "service": service,
        "infra": infra_for(schema),
        "outbox_notify": outbox_notify,
    }
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


def session_infra(session: AsyncSession) -> InfraTables:
    infra = session.info.get("infra")
    if infra is None:
        raise RuntimeError("session was not created by shared.db.create_sessionmaker")
    return infra


def session_service(session: AsyncSession) -> str:
    return str(session.info["service"])
