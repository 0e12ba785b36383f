"""Rethink forums and practice development sessions, attendance, feedback and alignment scores."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from services.formulation_api.db import Base


class ForumSession(Base):
    __tablename__ = "forum_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    type: Mapped[str] = mapped_column(String(40))
    held_on: Mapped[date] = mapped_column(Date)
    cluster_code: Mapped[str | None] = mapped_column(String(64))
    facilitator_sub: Mapped[str] = mapped_column(String(64), index=True)
    # Rethink Space and Practice and Progress are about one family.
    family_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("families.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ForumAttendance(Base):
    __tablename__ = "forum_attendances"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("forum_sessions.id"), index=True)
    sector: Mapped[str] = mapped_column(String(40))
    count: Mapped[int] = mapped_column(Integer)


class ForumFeedback(Base):
    __tablename__ = "forum_feedback"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("forum_sessions.id"), index=True)
    improved_understanding: Mapped[str | None] = mapped_column(String(20))
    confidence: Mapped[str | None] = mapped_column(String(20))
    broadened_perspective: Mapped[bool | None] = mapped_column(Boolean)
    multi_agency_networking: Mapped[bool | None] = mapped_column(Boolean)


class AlignmentScore(Base):
    """Practice and Progress: a participant's score of the issue at the start and at the end."""

    __tablename__ = "alignment_scores"
    __table_args__ = (UniqueConstraint("session_id", "participant", name="uq_alignment_scores_participant"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("forum_sessions.id"), index=True)
    participant: Mapped[str] = mapped_column(String(64))  # a label such as "p1", not a name
    start_score: Mapped[int | None] = mapped_column(Integer)
    end_score: Mapped[int | None] = mapped_column(Integer)
