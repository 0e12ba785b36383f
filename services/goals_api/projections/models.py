"""What the goals service knows of formulations, families and clusters, from events only."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Integer, String, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.goals_api.db import Base


class KnownFormulation(Base):
    """A completed formulation version (from `formulation.completed`). Drafts never appear here."""

    __tablename__ = "formulations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    version: Mapped[int] = mapped_column(Integer)
    previous_formulation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    cluster_code: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    lead_worker_sub: Mapped[str | None] = mapped_column(String(64))
    # [{"factor_id", "kind", "priority", "driving"}]: ids and flags only, never factor text.
    factors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    completed_on: Mapped[date] = mapped_column(Date)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def factor(self, factor_id: uuid.UUID) -> dict[str, Any] | None:
        return next((f for f in self.factors if f["factor_id"] == str(factor_id)), None)


class KnownFamily(Base):
    """A family accepted by a RES team (from `referral.accepted`, closed by `family.closed`)."""

    __tablename__ = "families"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    cluster_code: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    lead_worker_sub: Mapped[str | None] = mapped_column(String(64))
    # When the event that set the lead worker happened: an older event applied late (after a
    # retry) must not put the previous worker back.
    lead_worker_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The same for its open/closed state (accepted_on, closed_on).
    status_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)


class KnownCluster(Base):
    __tablename__ = "clusters"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    res_start: Mapped[date | None] = mapped_column(Date)
    co_located: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the cluster.upserted event that set this row happened (see KnownFamily's *_since).
    event_occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
