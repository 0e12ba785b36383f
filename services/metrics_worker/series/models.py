"""Raw service records (one per source record id) and the monthly counts derived from them."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    Uuid,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.metrics_worker.db import Base


class ServiceRecordRow(Base):
    __tablename__ = "service_records"
    __table_args__ = (
        # Only RES activity is looked up by child (sustained outcomes); indexing statutory
        # records too would slow every import for nothing.
        Index(
            "ix_service_records_res_child",
            "child_ref",
            "type",
            "occurred_on",
            postgresql_where=text("type LIKE 'res_%'"),
        ),
        # Sustained outcomes start from the closed RES plans of a window: a partial index of those
        # only (statutory imports pay nothing), covering what the query reads from them.
        Index(
            "ix_service_records_res_closed",
            "occurred_on",
            postgresql_include=["cluster_code", "child_ref"],
            postgresql_where=text("type = 'res_plan_closed'"),
        ),
        Index("ix_service_records_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # A re-sent source id is a duplicate: the unique index is what makes every path idempotent.
    source_id: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    cluster_code: Mapped[str] = mapped_column(String(64))
    occurred_on: Mapped[date] = mapped_column(Date)
    child_ref: Mapped[str] = mapped_column(String(100))  # pseudonymous, never a local id
    batch_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MonthlyCount(Base):
    __tablename__ = "monthly_counts"

    measure: Mapped[str] = mapped_column(String(40), primary_key=True)
    cluster_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class RecomputeRun(Base):
    __tablename__ = "recompute_runs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    trigger: Mapped[str] = mapped_column(String(40))  # api | job | cron
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    records: Mapped[int] = mapped_column(BigInteger)
    cells: Mapped[int] = mapped_column(Integer)
    # Did the rebuild find the incrementally kept counts already right? (None: runs from before
    # this was recorded.)
    identical_to_incremental: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
