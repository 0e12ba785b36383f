"""Clusters (copied from cluster.upserted events) and child population per cluster and year."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from services.metrics_worker.db import Base


class Cluster(Base):
    __tablename__ = "clusters"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    res_start: Mapped[date | None] = mapped_column(Date, nullable=True)
    co_located: Mapped[bool | None] = mapped_column(nullable=True)
    # When the cluster.upserted event that set this row happened: an older event applied late (a
    # retry, a second worker) must not put an old RES start back.
    event_occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Population(Base):
    __tablename__ = "populations"
    __table_args__ = (
        CheckConstraint("children_0_17 >= 0", name="children_non_negative"),
        CheckConstraint("year BETWEEN 1990 AND 2100", name="year_range"),
    )

    cluster_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    children_0_17: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
