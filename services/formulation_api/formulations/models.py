"""Rethink Formulation versions, their 6 Ps factors, next steps and Four Ways of Being notes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.formulation_api.db import Base


class Formulation(Base):
    __tablename__ = "formulations"
    __table_args__ = (UniqueConstraint("family_id", "version", name="uq_formulations_family_version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    family_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("families.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    previous_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("formulations.id"))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    context: Mapped[str] = mapped_column(String(40))
    facilitator_sub: Mapped[str | None] = mapped_column(String(64), index=True)
    participants: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    summary: Mapped[str | None] = mapped_column(Text)
    overall_goal: Mapped[str | None] = mapped_column(Text)
    goal_factor_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), default=list)
    next_steps_set: Mapped[bool] = mapped_column(Boolean, default=False)
    completed_on: Mapped[date | None] = mapped_column(Date)
    completed_by: Mapped[str | None] = mapped_column(String(64))
    override_reason: Mapped[str | None] = mapped_column(Text)
    # Bumped on every change; the ETag is derived from it.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Factor(Base):
    __tablename__ = "factors"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    formulation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("formulations.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    driving: Mapped[bool] = mapped_column(Boolean, default=False)
    prerequisite: Mapped[bool | None] = mapped_column(Boolean)
    powerful: Mapped[bool | None] = mapped_column(Boolean)
    proximal: Mapped[bool | None] = mapped_column(Boolean)
    participant_goal: Mapped[bool | None] = mapped_column(Boolean)
    priority: Mapped[bool] = mapped_column(Boolean, default=False)


class NextStep(Base):
    __tablename__ = "next_steps"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    formulation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("formulations.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    addresses_factor_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), default=list)
    builds_on_factor_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), default=list)


class Reflection(Base):
    """Four Ways of Being: where practice sat (with/to/for/not), on a formulation or session."""

    __tablename__ = "reflections"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    formulation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("formulations.id"), index=True)
    supervision_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("supervision_sessions.id"), index=True
    )
    way: Mapped[str] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReformulationRequest(Base):
    """Raised by the goals service when a plan stops progressing: "formulate again"."""

    __tablename__ = "reformulation_requests"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    family_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("families.id"), index=True)
    formulation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("formulations.id"))
    plan_id: Mapped[uuid.UUID] = mapped_column()
    reason: Mapped[str] = mapped_column(String(40))
    flagged_on: Mapped[date] = mapped_column(Date)
    reviews_without_progress: Mapped[int | None] = mapped_column(Integer)
    resolved_by_formulation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("formulations.id"))
