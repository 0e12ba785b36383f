"""Referral vocabulary and rules (seed Appendix 2 "How referrals are made", section 3.4).

Sources use the CIN census ReferralSource codes, the national vocabulary partner systems already
hold; the RES routes describe how a referral reached the team and map onto a default CIN code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

CIN_REFERRAL_SOURCES: dict[str, str] = {
    "1A": "Individual: family member, relative or carer",
    "1B": "Individual: acquaintance",
    "1C": "Individual: self",
    "1D": "Individual: other",
    "2A": "Education: schools",
    "2B": "Education: education services",
    "3A": "Health: GP",
    "3B": "Health: health visitor",
    "3C": "Health: school nurse",
    "3D": "Health: other primary health services",
    "3E": "Health: A&E",
    "3F": "Health: other",
    "4": "Housing",
    "5A": "LA services: social care",
    "5B": "LA services: other internal department",
    "5C": "LA services: external",
    "5D": "LA services: early help",
    "6": "Police",
    "7": "Other legal agency",
    "8": "Other",
    "9": "Anonymous",
    "10": "Unknown",
}


class ResRoute(StrEnum):
    SCHOOL_VIA_CLUSTER_LEAD = "school_via_cluster_lead"
    AREA_SOCIAL_WORK_STEP_DOWN = "area_social_work_step_down"
    DUTY_AND_ADVICE = "duty_and_advice"
    EARLY_HELP_HUB = "early_help_hub"
    ALLOCATIONS_PANEL = "allocations_panel"
    PARENT_OR_CARER = "parent_or_carer"
    OTHER_AGENCY = "other_agency"


# Default CIN code when a referral names only its RES route; an explicit source code wins.
ROUTE_DEFAULT_SOURCE: dict[ResRoute, str] = {
    ResRoute.SCHOOL_VIA_CLUSTER_LEAD: "2A",
    ResRoute.AREA_SOCIAL_WORK_STEP_DOWN: "5A",
    ResRoute.DUTY_AND_ADVICE: "5A",
    ResRoute.EARLY_HELP_HUB: "5D",
    ResRoute.ALLOCATIONS_PANEL: "5D",
    ResRoute.PARENT_OR_CARER: "1A",
    ResRoute.OTHER_AGENCY: "8",
}


def normalise_source_code(code: str) -> str:
    """Return the canonical CIN code ("5d" → "5D"); ValueError when it is not in the list."""
    key = code.strip().upper()
    if key not in CIN_REFERRAL_SOURCES:
        raise ValueError(f"{code!r} is not a CIN census ReferralSource code")
    return key


def resolve_source(source_code: str | None, route: ResRoute | None) -> str:
    """The CIN code to record: the explicit one, else the route's default."""
    if source_code is not None:
        return normalise_source_code(source_code)
    if route is not None:
        return ROUTE_DEFAULT_SOURCE[route]
    raise ValueError("a referral needs a source_code or a route")


class SupportType(StrEnum):
    EARLY_HELP = "early_help"
    CHILD_IN_NEED = "child_in_need"


class ReferralStatus(StrEnum):
    RECEIVED = "received"
    CONVERSATION_RECORDED = "conversation_recorded"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REDIRECTED = "redirected"


# Every referral starts with a conversation with the RES team manager; no waiting list, so a
# referral ends accepted, declined or redirected. Only the academy rule declines on receipt, and
# it does so without going through these transitions (no person decided it).
TRANSITIONS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    ReferralStatus.RECEIVED: frozenset({ReferralStatus.CONVERSATION_RECORDED}),
    ReferralStatus.CONVERSATION_RECORDED: frozenset(
        {ReferralStatus.ACCEPTED, ReferralStatus.DECLINED, ReferralStatus.REDIRECTED}
    ),
    ReferralStatus.ACCEPTED: frozenset(),
    ReferralStatus.DECLINED: frozenset(),
    ReferralStatus.REDIRECTED: frozenset(),
}


def can_transition(current: ReferralStatus, target: ReferralStatus) -> bool:
    return target in TRANSITIONS[current]


def transition_rule(current: ReferralStatus, target: ReferralStatus) -> str | None:
    """None when allowed, else the rule name to report."""
    if can_transition(current, target):
        return None
    if current is ReferralStatus.RECEIVED:
        return "conversation_required"
    return "referral_already_decided" if not TRANSITIONS[current] else "invalid_transition"


ACADEMY_RULE = "academy_requires_early_help_offer"


def academy_rule(academy_outside_cluster: bool, early_help_offer_in_place: bool) -> str | None:
    """Academies outside the cluster are served only with an early help offer already in place."""
    if academy_outside_cluster and not early_help_offer_in_place:
        return ACADEMY_RULE
    return None


REOPEN_RULE = "family_of_another_team"


def reopen_rule(previous_team_id: object, caller_teams: Iterable[str], is_admin: bool) -> str | None:
    """A closed family is re-opened (and so handed, with its members and formulations, to the
    accepting team) only by someone in the team that held it last, or an admin."""
    if is_admin or str(previous_team_id) in {str(t) for t in caller_teams}:
        return None
    return REOPEN_RULE


class DeclineReason(StrEnum):
    NOT_APPROPRIATE_FOR_RES = "not_appropriate_for_res"
    NEEDS_STATUTORY_RESPONSE = "needs_statutory_response"
    FAMILY_DID_NOT_CONSENT = "family_did_not_consent"
    ALREADY_SUPPORTED = "already_supported"
    ACADEMY_RULE = ACADEMY_RULE
    OTHER = "other"


class RedirectDestination(StrEnum):
    """Where a referral RES does not take is sent instead. A code, so it can travel in the
    `referral.redirected` event and be counted; the service's own name goes in the note."""

    CLUSTER_TARGETED_SERVICES = "cluster_targeted_services"
    EARLY_HELP_HUB = "early_help_hub"
    DUTY_AND_ADVICE = "duty_and_advice"  # the children's social care front door
    AREA_SOCIAL_WORK = "area_social_work"
    SCHOOL_SUPPORT = "school_support"
    HEALTH_SERVICES = "health_services"  # CAMHS, health visiting, GP
    VOLUNTARY_SECTOR = "voluntary_sector"
    OTHER = "other"


class ClosureReason(StrEnum):
    """Closure reasons printed in section 3.3 (same keys as the goals service)."""

    ALL_GOALS_ACHIEVED = "all_goals_achieved"
    FAMILY_NO_LONGER_WANTED_SUPPORT = "family_no_longer_wanted_support"
    ESCALATED_TO_AREA_SOCIAL_WORK = "escalated_to_area_social_work"
    CONTINUED_INTERVENTION_NEW_FORMULATION = "continued_intervention_new_formulation"
    SUPPORT_FROM_ANOTHER_SERVICE = "support_from_another_service"


@dataclass(frozen=True)
class RuleBreach:
    rule: str
    field: str
    detail: str
