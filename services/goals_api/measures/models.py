"""Closure feedback (one survey per plan) and SCORE-15 answers per family member and time point."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    SmallInteger,
    String,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.goals_api.db import Base


class FeedbackSurvey(Base):
    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint(
            "service_rating BETWEEN 1 AND 10 AND communication_rating BETWEEN 1 AND 10"
            " AND understanding_rating BETWEEN 1 AND 10",
            name="ratings",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"), unique=True)
    given_on: Mapped[date] = mapped_column(Date)
    treated_with_respect: Mapped[bool] = mapped_column(Boolean)
    would_recommend: Mapped[bool] = mapped_column(Boolean)
    service_rating: Mapped[int] = mapped_column(SmallInteger)
    communication_rating: Mapped[int] = mapped_column(SmallInteger)
    understanding_rating: Mapped[int] = mapped_column(SmallInteger)
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Score15Response(Base):
    __tablename__ = "score15_responses"
    __table_args__ = (
        UniqueConstraint("plan_id", "member_ref", "timepoint", name="uq_score15_member_timepoint"),
        CheckConstraint("timepoint IN ('T1', 'T2')", name="timepoint"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"), index=True)
    # A pseudonymous label for the family member ("parent-1", "young-person-1"), never a name.
    member_ref: Mapped[str] = mapped_column(String(40))
    timepoint: Mapped[str] = mapped_column(String(2))
    completed_on: Mapped[date] = mapped_column(Date)
    items: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    total: Mapped[Decimal] = mapped_column(Numeric(3, 2))
    strengths_and_adaptability: Mapped[Decimal] = mapped_column(Numeric(3, 2))
    overwhelmed_by_difficulties: Mapped[Decimal] = mapped_column(Numeric(3, 2))
    disrupted_communication: Mapped[Decimal] = mapped_column(Numeric(3, 2))
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
