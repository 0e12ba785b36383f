"""Input rules every request body of this service shares.

PostgreSQL text cannot hold a NUL character, so a string carrying one would fail at the database
as a 500; it is refused up front as a 422 naming the field. Dates of things that happened (a
referral received, a session held, a consent given) cannot be in the future; one day of slack
covers the hour a UK evening is already tomorrow in UTC. A date before 2000 is a typing error
(RES teams began in 2017) that would otherwise land in the monthly series as year 1.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, field_validator
from pydantic_core import PydanticCustomError

from shared.schemas import RequestModel as SharedRequestModel

SLACK = timedelta(days=1)
EARLIEST = date(2000, 1, 1)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


class RequestModel(SharedRequestModel):
    """The shared request model, refusing NUL characters in any string field."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise PydanticCustomError("no_nul_character", "text may not contain a NUL character")
        return value


def _plausible(value: date) -> None:
    if value < EARLIEST:
        raise PydanticCustomError("date_too_early", "dates before 2000-01-01 are not accepted")


def _not_future_date(value: date) -> date:
    _plausible(value)
    if value > datetime.now(UTC).date() + SLACK:
        raise PydanticCustomError("date_in_future", "this date has not happened yet")
    return value


def _not_future_datetime(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise PydanticCustomError("timezone_required", "give a time zone, e.g. 'Z' or '+01:00'")
    _plausible(value.date())
    if value > datetime.now(UTC) + SLACK:
        raise PydanticCustomError("date_in_future", "this time has not happened yet")
    return value


PastDate = Annotated[date, AfterValidator(_not_future_date)]
PastDateTime = Annotated[datetime, AfterValidator(_not_future_datetime)]
