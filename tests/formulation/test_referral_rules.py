"""Unit tests: referral vocabulary, lifecycle and the academy rule."""

import pytest

from services.formulation_api.referrals.rules import (
    ACADEMY_RULE,
    CIN_REFERRAL_SOURCES,
    ROUTE_DEFAULT_SOURCE,
    ReferralStatus,
    ResRoute,
    academy_rule,
    can_transition,
    normalise_source_code,
    resolve_source,
    transition_rule,
)

CIN_CODES = [
    *("1A", "1B", "1C", "1D", "2A", "2B"),
    *("3A", "3B", "3C", "3D", "3E", "3F", "4"),
    *("5A", "5B", "5C", "5D", "6", "7", "8", "9", "10"),
]


def test_cin_code_list_is_the_census_list() -> None:
    assert sorted(CIN_REFERRAL_SOURCES) == sorted(CIN_CODES)


@pytest.mark.parametrize("code", CIN_CODES)
def test_each_cin_code_accepted_in_any_case(code: str) -> None:
    assert normalise_source_code(code.lower()) == code


@pytest.mark.parametrize("bad", ["1E", "2C", "3G", "5E", "11", "0", "", "school"])
def test_codes_outside_the_list_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        normalise_source_code(bad)


def test_every_res_route_maps_to_a_cin_code() -> None:
    assert set(ROUTE_DEFAULT_SOURCE) == set(ResRoute)
    assert all(code in CIN_REFERRAL_SOURCES for code in ROUTE_DEFAULT_SOURCE.values())
    assert resolve_source(None, ResRoute.EARLY_HELP_HUB) == "5D"
    assert resolve_source(None, ResRoute.SCHOOL_VIA_CLUSTER_LEAD) == "2A"


def test_explicit_code_wins_over_route() -> None:
    assert resolve_source("3a", ResRoute.PARENT_OR_CARER) == "3A"


def test_source_or_route_required() -> None:
    with pytest.raises(ValueError):
        resolve_source(None, None)


R = ReferralStatus


def test_lifecycle_happy_paths() -> None:
    assert can_transition(R.RECEIVED, R.CONVERSATION_RECORDED)
    for end in (R.ACCEPTED, R.DECLINED, R.REDIRECTED):
        assert can_transition(R.CONVERSATION_RECORDED, end)


def test_no_decision_before_the_conversation() -> None:
    assert transition_rule(R.RECEIVED, R.ACCEPTED) == "conversation_required"
    assert transition_rule(R.RECEIVED, R.REDIRECTED) == "conversation_required"
    # a person declines only after the conversation; the academy rule declines on receipt itself
    assert transition_rule(R.RECEIVED, R.DECLINED) == "conversation_required"


def test_decided_referrals_are_final() -> None:
    for end in (R.ACCEPTED, R.DECLINED, R.REDIRECTED):
        for target in R:
            assert transition_rule(end, target) == "referral_already_decided"


def test_conversation_recorded_once() -> None:
    assert transition_rule(R.CONVERSATION_RECORDED, R.CONVERSATION_RECORDED) == ("invalid_transition")


def test_academy_rule() -> None:
    assert academy_rule(academy_outside_cluster=True, early_help_offer_in_place=False) == (ACADEMY_RULE)
    assert academy_rule(academy_outside_cluster=True, early_help_offer_in_place=True) is None
    assert academy_rule(academy_outside_cluster=False, early_help_offer_in_place=False) is None
