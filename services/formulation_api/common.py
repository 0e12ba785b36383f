"""Small helpers shared by the formulation service's domain folders."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def team_uuids(teams: Iterable[str]) -> list[uuid.UUID]:
    """The token's team claims that are team ids (anything else names no team here)."""
    out = []
    for t in teams:
        try:
            out.append(uuid.UUID(t))
        except ValueError:
            continue
    return out
