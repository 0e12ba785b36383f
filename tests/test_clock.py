""" "Today" is the local calendar date where the service runs, not UTC's."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from shared import clock
from shared.settings import ServiceSettings


def test_a_british_summer_night_is_already_tomorrow() -> None:
    # 23:30 UTC on 1 June is 00:30 BST on 2 June: a score entered then is dated the 2nd.
    assert clock.local_date(datetime(2026, 6, 1, 23, 30, tzinfo=UTC)) == date(2026, 6, 2)
    # In winter London is on UTC.
    assert clock.local_date(datetime(2026, 12, 1, 23, 30, tzinfo=UTC)) == date(2026, 12, 1)


def test_the_zone_is_configurable() -> None:
    moment = datetime(2026, 6, 1, 23, 30, tzinfo=UTC)
    try:
        clock.configure("UTC")
        assert clock.local_date(moment) == date(2026, 6, 1)
        clock.configure("Pacific/Auckland")
        assert clock.local_date(moment) == date(2026, 6, 2)
    finally:
        clock.configure(clock.DEFAULT_ZONE)


def test_pinned_day_wins_and_unpins() -> None:
    with clock.pinned(date(2020, 2, 29)):
        assert clock.today() == date(2020, 2, 29)
        with clock.pinned(date(2021, 1, 1)):
            assert clock.today() == date(2021, 1, 1)
        assert clock.today() == date(2020, 2, 29)


def test_settings_refuse_an_unknown_zone() -> None:
    assert ServiceSettings().timezone == "Europe/London"
    assert ServiceSettings(timezone="America/New_York").timezone == "America/New_York"
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus_Mons'"):
        ServiceSettings(timezone="Mars/Olympus_Mons")
