"""Unit tests: the no-waiting-list caseload rule."""

import pytest

from services.formulation_api.teams.caseload import (
    DEFAULT_LIMITS,
    MemberRole,
    WorkerLoad,
    check_allocation,
    team_limits,
)

SW, FSW, TM = MemberRole.SOCIAL_WORKER, MemberRole.FAMILY_SUPPORT_WORKER, MemberRole.TEAM_MANAGER


def test_default_limits_are_four_and_eight() -> None:
    assert DEFAULT_LIMITS == {SW: 4, FSW: 8}
    assert team_limits(None) == DEFAULT_LIMITS


def test_team_overrides() -> None:
    assert team_limits({"social_worker": 3}) == {SW: 3, FSW: 8}
    with pytest.raises(ValueError):
        team_limits({"team_manager": 2})
    with pytest.raises(ValueError):
        team_limits({"social_worker": -1})
    with pytest.raises(ValueError):
        team_limits({"nurse": 2})


def test_fifth_family_for_a_social_worker_refused() -> None:
    limits = team_limits(None)
    workers = [WorkerLoad("sw1", SW, 4), WorkerLoad("fsw1", FSW, 2)]
    check = check_allocation("sw1", workers, limits)
    assert not check.ok
    assert check.rule == "caseload_full"
    assert check.full_caseloads == [{"sub": "sw1", "role": "social_worker", "open_families": 4, "limit": 4}]
    assert check.available == ["fsw1"]
    assert check_allocation("sw1", [WorkerLoad("sw1", SW, 3)], limits).ok


def test_ninth_family_for_a_family_support_worker_refused() -> None:
    limits = team_limits(None)
    assert check_allocation("f", [WorkerLoad("f", FSW, 7)], limits).ok
    assert check_allocation("f", [WorkerLoad("f", FSW, 8)], limits).rule == "no_capacity_in_team"


def test_whole_team_full_names_every_caseload() -> None:
    limits = team_limits({"family_support_worker": 2})
    workers = [WorkerLoad("a", SW, 4), WorkerLoad("b", FSW, 2), WorkerLoad("m", TM, 0)]
    check = check_allocation("a", workers, limits)
    assert check.rule == "no_capacity_in_team"
    assert [f["sub"] for f in check.full_caseloads] == ["a", "b"]
    assert check.available == []


def test_team_manager_is_not_a_lead_worker() -> None:
    check = check_allocation("m", [WorkerLoad("m", TM, 0)], team_limits(None))
    assert (check.ok, check.rule) == (False, "not_a_lead_worker_in_team")
