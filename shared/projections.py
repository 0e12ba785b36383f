"""Copies of another service's rows, kept from its events (each service's read models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlalchemy.dialects.postgresql import Insert, insert


def upsert_if_newer(
    model: Any,
    key: str,
    values: dict[str, Any],
    occurred_at: datetime,
    *,
    touch: dict[str, Any] | None = None,
) -> Insert:
    """Insert the row, or update it only with an event at least as recent as the one that set it
    (``event_occurred_at``): a late retry of an older event, or one taken by a second worker,
    cannot put old values back. ``touch``: further columns to set on an update (e.g. updated_at)."""
    stmt = insert(model).values(**values, event_occurred_at=occurred_at)
    changed = [name for name in values if name != key] + ["event_occurred_at"]
    return stmt.on_conflict_do_update(
        index_elements=[getattr(model, key)],
        set_={**{name: stmt.excluded[name] for name in changed}, **(touch or {})},
        where=or_(
            model.event_occurred_at.is_(None),
            stmt.excluded.event_occurred_at >= model.event_occurred_at,
        ),
    )
