"""Families, their members and structure (genogram), and consent records.

Names and contact details live only here; other services know a family by its uuid.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from services.formulation_api.db import Base


class Family(Base):
    __tablename__ = "families"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    reference_name: Mapped[str] = mapped_column(String(200))
    cluster_code: Mapped[str] = mapped_column(String(40), ForeignKey("clusters.code"), index=True)
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id"), index=True)
    # "One family, one lead worker, one plan."
    lead_worker_sub: Mapped[str] = mapped_column(String(64), index=True)
    support_type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="open")
    opened_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    closure_reason: Mapped[str | None] = mapped_column(String(64))
    escalated_on: Mapped[date | None] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class FamilyMember(Base):
    __tablename__ = "family_members"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    family_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("families.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # child | young_person | adult
    name: Mapped[str] = mapped_column(String(200))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    contact: Mapped[str | None] = mapped_column(String(300))


class FamilyRelationship(Base):
    __tablename__ = "family_relationships"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    family_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("families.id"), index=True)
    from_member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("family_members.id"))
    to_member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("family_members.id"))
    type: Mapped[str] = mapped_column(String(40))


class Consent(Base):
    __tablename__ = "consents"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    family_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("families.id"), index=True)
    scope: Mapped[str] = mapped_column(String(40))
    agency: Mapped[str | None] = mapped_column(String(200))
    given_by: Mapped[str] = mapped_column(String(200))
    given_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(64))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_recorded_by: Mapped[str | None] = mapped_column(String(64))


class FamilyPlan(Base):
    """The goals service's plan for a family, as learned from its events (ids and dates only)."""

    __tablename__ = "family_plans"

    plan_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    family_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("families.id"), index=True)
    closed_on: Mapped[date | None] = mapped_column(Date)
    reason_code: Mapped[str | None] = mapped_column(String(64))
