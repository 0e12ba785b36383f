"""Plans: the overall goal of a family's intervention and how it closed."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.goals_api.db import Base


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (
        # "One family, one lead worker, one plan": at most one open plan per family.
        Index(
            "uq_plans_one_open_per_family",
            "family_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
        CheckConstraint("review_every_days BETWEEN 1 AND 90", name="review_every_days"),
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        CheckConstraint(
            "(status = 'closed') = (closed_on IS NOT NULL AND closure_reason IS NOT NULL)",
            name="closed_fields",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    formulation_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    formulation_version: Mapped[int] = mapped_column(Integer)
    cluster_code: Mapped[str] = mapped_column(String(64), index=True)
    team_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    lead_worker_sub: Mapped[str] = mapped_column(String(64), index=True)
    overall_goal: Mapped[str] = mapped_column(Text)
    review_every_days: Mapped[int] = mapped_column(Integer, default=7)
    status: Mapped[str] = mapped_column(String(10), default="open")
    opened_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date, index=True)
    closure_reason: Mapped[str | None] = mapped_column(String(64))
    sustainability_plan: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Who closed the plan: a worker's sub, or "event:family.closed" when the family's case was
    # closed in the formulation service while the plan was still open.
    closed_by: Mapped[str | None] = mapped_column(String(64))
    # Set from `family.closed`: the family's RES case is closed (the plan then shows it).
    family_closed_on: Mapped[date | None] = mapped_column(Date)
    reformulation_flagged_on: Mapped[date | None] = mapped_column(Date)
    reviews_without_progress: Mapped[int] = mapped_column(Integer, default=0)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def sustainability_plan_agreed(self) -> bool:
        return self.sustainability_plan is not None
