"""Controlled vocabularies of the goals service (codes stored in the database and in events).

Labels are the wording of the evaluation report (section 3.3, Table 4, Appendix 5) so reports
can be compared line by line with the published figures.
"""

from __future__ import annotations

from enum import StrEnum


class GoalCategory(StrEnum):
    CHILD_SAFEGUARDING = "child_safeguarding"
    CHILD_HEALTH = "child_health"
    ENGAGEMENT_ALIGNMENT = "engagement_alignment"
    EDUCATION_OUTCOMES = "education_outcomes"
    VOICE_AND_INFLUENCE = "voice_and_influence"
    ADULT_BEHAVIOUR = "adult_behaviour"
    FUN_GROWING_UP = "fun_growing_up"


GOAL_CATEGORY_LABELS: dict[GoalCategory, str] = {
    GoalCategory.CHILD_SAFEGUARDING: "Child safeguarding",
    GoalCategory.CHILD_HEALTH: "Child health",
    GoalCategory.ENGAGEMENT_ALIGNMENT: "Engagement/alignment with services",
    GoalCategory.EDUCATION_OUTCOMES: "Education outcomes",
    GoalCategory.VOICE_AND_INFLUENCE: "Voice and influence",
    GoalCategory.ADULT_BEHAVIOUR: "Adult behaviour",
    GoalCategory.FUN_GROWING_UP: "Fun growing up",
}


class ActivityCategory(StrEnum):
    # The four most frequent categories in Table 4 of the report.
    PARENTING_WORK = "parenting_work"
    PROMOTING_EMOTIONAL_HEALTH = "promoting_emotional_health"
    ENGAGEMENT_ALIGNMENT_WORK = "engagement_alignment_work"
    RELATIONSHIP_WORK = "relationship_work"
    # Further kinds of work recorded by RES workers ("others exist" in the data).
    ROUTINES_AND_BOUNDARIES = "routines_and_boundaries"
    EDUCATION_SUPPORT = "education_support"
    HEALTH_SUPPORT = "health_support"
    PRACTICAL_SUPPORT = "practical_support"
    DOMESTIC_ABUSE_WORK = "domestic_abuse_work"
    SUBSTANCE_MISUSE_WORK = "substance_misuse_work"
    SAFETY_PLANNING = "safety_planning"
    MULTI_AGENCY_COORDINATION = "multi_agency_coordination"
    PLAY_AND_LEISURE = "play_and_leisure"
    CHILD_VOICE_WORK = "child_voice_work"
    OTHER = "other"


ACTIVITY_LABELS: dict[ActivityCategory, str] = {
    ActivityCategory.PARENTING_WORK: "Parenting Work",
    ActivityCategory.PROMOTING_EMOTIONAL_HEALTH: "Promoting Emotional Health",
    ActivityCategory.ENGAGEMENT_ALIGNMENT_WORK: "Engagement and Alignment work",
    ActivityCategory.RELATIONSHIP_WORK: "Relationship Work",
    ActivityCategory.ROUTINES_AND_BOUNDARIES: "Routines and boundaries",
    ActivityCategory.EDUCATION_SUPPORT: "Education support",
    ActivityCategory.HEALTH_SUPPORT: "Health support",
    ActivityCategory.PRACTICAL_SUPPORT: "Practical support (housing, money)",
    ActivityCategory.DOMESTIC_ABUSE_WORK: "Domestic abuse work",
    ActivityCategory.SUBSTANCE_MISUSE_WORK: "Substance misuse work",
    ActivityCategory.SAFETY_PLANNING: "Safety planning",
    ActivityCategory.MULTI_AGENCY_COORDINATION: "Multi-agency coordination",
    ActivityCategory.PLAY_AND_LEISURE: "Play and leisure",
    ActivityCategory.CHILD_VOICE_WORK: "Child's voice work",
    ActivityCategory.OTHER: "Other",
}


class GoalStatus(StrEnum):
    ACTIVE = "active"
    ACHIEVED = "achieved"
    REPLACED = "replaced"
    DISCONTINUED = "discontinued"


class EvaluationDecision(StrEnum):
    CONTINUE = "continue"
    CHANGE_ACTIONS = "change_actions"
    ACHIEVED = "achieved"
    REPLACE = "replace"


class ClosureReason(StrEnum):
    # Keys match the closure reasons printed in section 3.3 of the report.
    ALL_GOALS_ACHIEVED = "all_goals_achieved"
    FAMILY_NO_LONGER_WANTED_SUPPORT = "family_no_longer_wanted_support"
    ESCALATED_TO_AREA_SOCIAL_WORK = "escalated_to_area_social_work"
    CONTINUED_INTERVENTION_NEW_FORMULATION = "continued_intervention_new_formulation"
    SUPPORT_FROM_ANOTHER_SERVICE = "support_from_another_service"


CLOSURE_REASON_LABELS: dict[ClosureReason, str] = {
    ClosureReason.ALL_GOALS_ACHIEVED: "All goals achieved",
    ClosureReason.FAMILY_NO_LONGER_WANTED_SUPPORT: "Family no longer wanted support",
    ClosureReason.ESCALATED_TO_AREA_SOCIAL_WORK: "Escalated to the area social work team",
    ClosureReason.CONTINUED_INTERVENTION_NEW_FORMULATION: ("Continued intervention with a new formulation"),
    ClosureReason.SUPPORT_FROM_ANOTHER_SERVICE: "Support from another service",
}

# Closures that are a closing review with the family ("when agreed progress against the overall
# goal has been made", Appendix 5 step 15): these need the sustainability plan. For the other
# reasons a plan may be attached but is not required (a family that withdrew may not take part).
CLOSING_REVIEW_REASONS: frozenset[ClosureReason] = frozenset({ClosureReason.ALL_GOALS_ACHIEVED})

MAX_ACTIVE_GOALS = 3  # Appendix 5, step 6: "only work on three at a time"
SCORE_MIN = 0
SCORE_MAX = 10
