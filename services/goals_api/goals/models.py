"""Sub-goals and what is recorded against them: tracking scores, actions and evaluations."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.goals_api.db import Base
from services.goals_api.plans.models import Plan


class Goal(Base):
    __tablename__ = "goals"
    __table_args__ = (
        CheckConstraint("baseline BETWEEN 0 AND 10", name="baseline_range"),
        CheckConstraint("latest_score IS NULL OR latest_score BETWEEN 0 AND 10", name="latest"),
        CheckConstraint("status IN ('active', 'achieved', 'replaced', 'discontinued')", name="status"),
        # The overdue-review list pages through active goals by (due date, id).
        Index(
            "ix_goals_active_review_due",
            "review_due_on",
            "id",
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    specific: Mapped[str] = mapped_column(Text)
    measurable: Mapped[str] = mapped_column(Text)
    achievable: Mapped[str] = mapped_column(Text)
    realistic: Mapped[str] = mapped_column(Text)
    target_date: Mapped[date] = mapped_column(Date)
    code: Mapped[str] = mapped_column(String(4))
    category: Mapped[str] = mapped_column(String(40), index=True)
    addresses_factor_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid))
    builds_on_factor_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid))
    baseline: Mapped[int] = mapped_column(Integer)
    baseline_on: Mapped[date] = mapped_column(Date, index=True)
    # The latest tracking score, kept with the goal so reports can group without a lateral join.
    latest_score: Mapped[int | None] = mapped_column(Integer)
    latest_scored_on: Mapped[date | None] = mapped_column(Date)
    # When the next review is due: the latest score's date (or the baseline's) plus the plan's
    # review frequency, which never changes once the plan is open.
    review_due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="active")
    status_changed_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    plan: Mapped[Plan] = relationship(lazy="raise")


class Score(Base):
    __tablename__ = "scores"
    __table_args__ = (CheckConstraint("score BETWEEN 0 AND 10", name="score_range"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    goal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("goals.id"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    recorded_on: Mapped[date] = mapped_column(Date)
    given_by: Mapped[str] = mapped_column(String(30))
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Action(Base):
    __tablename__ = "actions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    goal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("goals.id"), index=True)
    activity: Mapped[str] = mapped_column(String(40), index=True)
    description: Mapped[str] = mapped_column(Text)
    done_on: Mapped[date] = mapped_column(Date)
    done_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Evaluation(Base):
    __tablename__ = "evaluations"
    __table_args__ = (CheckConstraint("score BETWEEN 0 AND 10", name="score_range"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    goal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("goals.id"), index=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"), index=True)
    reviewed_on: Mapped[date] = mapped_column(Date)
    score: Mapped[int] = mapped_column(Integer)
    rationale: Mapped[str] = mapped_column(Text)
    decision: Mapped[str] = mapped_column(String(20))
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
