"""Referrals: received, conversation recorded, then accepted, declined or redirected."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.formulation_api.db import Base


class Referral(Base):
    __tablename__ = "referrals"
    # Lists are ordered by (created_at, id) for their cursor; named by the naming convention.
    __table_args__ = (Index(None, "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    created_by: Mapped[str] = mapped_column(String(64), index=True)
    cluster_code: Mapped[str] = mapped_column(String(40), ForeignKey("clusters.code"), index=True)
    source_code: Mapped[str] = mapped_column(String(4))
    route: Mapped[str | None] = mapped_column(String(40))
    referring_organisation: Mapped[str] = mapped_column(String(200))
    support_type: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    academy_outside_cluster: Mapped[bool] = mapped_column(Boolean, default=False)
    early_help_offer_in_place: Mapped[bool] = mapped_column(Boolean, default=False)
    # Details of a new family (names stay in this service); or an existing family.
    family_details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    existing_family_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("families.id"))
    status: Mapped[str] = mapped_column(String(30), default="received", index=True)
    received_on: Mapped[date] = mapped_column(Date)
    conversation_on: Mapped[date | None] = mapped_column(Date)
    conversation_manager_sub: Mapped[str | None] = mapped_column(String(64))
    conversation_notes: Mapped[str | None] = mapped_column(Text)
    decided_on: Mapped[date | None] = mapped_column(Date)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decline_reason: Mapped[str | None] = mapped_column(String(64))
    decline_note: Mapped[str | None] = mapped_column(Text)
    redirected_to: Mapped[str | None] = mapped_column(String(200))
    family_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("families.id"))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
