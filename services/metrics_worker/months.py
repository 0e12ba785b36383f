"""Calendar-month arithmetic. A month is the ``date`` of its first day; text form ``YYYY-MM``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> date:
    m = _MONTH.match(text)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"month must be YYYY-MM, got {text!r}")
    return date(int(m.group(1)), int(m.group(2)), 1)


def month_of(day: date) -> date:
    return day.replace(day=1)


def format_month(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def add_months(day: date, n: int) -> date:
    """Same day n months later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + n
    year, month0 = divmod(index, 12)
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month0 + 1, min(day.day, d))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def months_between(start: date, end: date) -> int:
    """Number of months from ``start`` up to but not including ``end`` (both month starts)."""
    return (end.year - start.year) * 12 + end.month - start.month


def month_range(first: date, last: date) -> Iterator[date]:
    """Every month from ``first`` to ``last`` inclusive."""
    for i in range(months_between(first, last) + 1):
        yield add_months(first, i)
