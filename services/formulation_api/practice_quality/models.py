"""Recorded formulations rated by two coders on the five key social work skills."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from services.formulation_api.db import Base


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    formulation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("formulations.id"), index=True)
    recorded_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SkillRating(Base):
    __tablename__ = "skill_ratings"
    __table_args__ = (UniqueConstraint("recording_id", "coder_sub", "skill", name="uq_skill_ratings_once"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    recording_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("recordings.id"), index=True)
    coder_sub: Mapped[str] = mapped_column(String(64))
    skill: Mapped[str] = mapped_column(String(30))
    score: Mapped[int] = mapped_column(Integer)
