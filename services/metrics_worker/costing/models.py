"""Unit-cost catalogue versions added by analysts (the report's 2020.1 edition is built in)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, Numeric, String, func
from sqlalchemy.orm import Mapped, mapped_column

from services.metrics_worker.db import Base


class UnitCostRow(Base):
    __tablename__ = "unit_costs"

    version: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    unit: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(300))
    edition: Mapped[str] = mapped_column(String(40))
    price_year: Mapped[str] = mapped_column(String(20))
    derivation: Mapped[str] = mapped_column(String(300))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
