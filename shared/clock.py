"""What day it is for the people using the services: local dates, in the authority's time zone.

The dates people record (a score given on, a plan opened on, a referral received on) are local
calendar dates. Taking "today" in UTC would refuse a score entered at 00:30 on a British summer
morning as "in the future", so every date rule asks this module instead. Tests pin the day, so a
run that crosses midnight agrees with itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Europe/London"

_zone = ZoneInfo(DEFAULT_ZONE)
_pinned: date | None = None


def configure(zone_name: str) -> None:
    """Use this IANA time zone for "today" (``RETHINK_TIMEZONE``)."""
    global _zone
    _zone = ZoneInfo(zone_name)


def zone() -> ZoneInfo:
    return _zone


def local_date(moment: datetime) -> date:
    """The calendar date of an aware moment, where the service is."""
    return moment.astimezone(_zone).date()


def today() -> date:
    if _pinned is not None:
        return _pinned
    return local_date(datetime.now(UTC))


@contextmanager
def pinned(day: date) -> Iterator[None]:
    """Fix "today" (tests; an in-process replay of a past day)."""
    global _pinned
    previous, _pinned = _pinned, day
    try:
        yield
    finally:
        _pinned = previous
