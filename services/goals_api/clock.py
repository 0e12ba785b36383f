"""Today's date in one place (UTC), so date rules agree across the service."""

from datetime import UTC, date, datetime


def today() -> date:
    return datetime.now(UTC).date()
