"""Outcome-focused supervision: group and individual sessions, the cases discussed, plan checks."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.formulation_api.db import Base


class SupervisionSession(Base):
    __tablename__ = "supervision_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # group | individual
    held_on: Mapped[date] = mapped_column(Date)
    supervisor_sub: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SupervisionCase(Base):
    """A family discussed in a session, with the outcome-focused check of its plan."""

    __tablename__ = "supervision_cases"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("supervision_sessions.id"), index=True)
    family_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("families.id"), index=True)
    plan_id: Mapped[uuid.UUID | None] = mapped_column()
    rationale: Mapped[str | None] = mapped_column(Text)
    likely_to_achieve_goal: Mapped[bool | None] = mapped_column(Boolean)
    decision: Mapped[str | None] = mapped_column(Text)
    follow_up_actions: Mapped[list[Any]] = mapped_column(JSONB, default=list)
