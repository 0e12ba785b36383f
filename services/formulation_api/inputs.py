"""Input rules every request body of this service shares.

NUL characters are refused for every service by `shared.schemas.RequestModel`. Dates of things
that happened (a referral received, a session held, a consent given) cannot be in the future; one
day of slack covers the hour a UK evening is already tomorrow in UTC. A date before 2000 is a typing error
(RES teams began in 2017) that would otherwise land in the monthly series as year 1.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from shared import clock

# NUL characters are refused by the shared request model itself; re-exported for this service's schemas.
from shared.schemas import RequestModel

SLACK = timedelta(days=1)
EARLIEST = date(2000, 1, 1)


def _plausible(value: date) -> None:
    if value < EARLIEST:
        raise PydanticCustomError("date_too_early", "dates before 2000-01-01 are not accepted")


def _not_future_date(value: date) -> date:
    _plausible(value)
    if value > clock.today() + SLACK:
        raise PydanticCustomError("date_in_future", "this date has not happened yet")
    return value


def _not_future_datetime(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise PydanticCustomError("timezone_required", "give a time zone, e.g. 'Z' or '+01:00'")
    _plausible(value.date())
    if value > datetime.now(UTC) + SLACK:
        raise PydanticCustomError("date_in_future", "this time has not happened yet")
    return value


def _planned_date(value: date) -> date:
    _plausible(value)
    if value > clock.today() + PLANNING_HORIZON:
        raise PydanticCustomError("date_too_late", "dates more than 5 years ahead are not accepted")
    return value


# A date that may lie ahead (a RES team's planned start), but not beyond any plan's horizon.
PLANNING_HORIZON = timedelta(days=5 * 366)
PastDate = Annotated[date, AfterValidator(_not_future_date)]
PlannedDate = Annotated[date, AfterValidator(_planned_date)]
PastDateTime = Annotated[datetime, AfterValidator(_not_future_datetime)]

__all__ = ["PastDate", "PastDateTime", "PlannedDate", "RequestModel"]
