"""Progress of a sub-goal against its baseline, and the rules built on it.

Goal scores are 0-10 ratings given by the family (0 is a real score). Progress compares the latest
tracking score with the baseline, exactly as the columns of Table 4 of the report do.

Reliable change: a single-item 0-10 goal rating carries measurement error, so a change is flagged
as *reliable* only when its size reaches a threshold. The default, 3 points, follows the reliable
change index reported for Goal Based Outcomes rated 0-10 in CAMHS outcome monitoring (about 2.45
points, Edbrooke-Childs et al. 2015, used by CORC), rounded up to whole points because scores are
whole numbers. It is a convention borrowed from a similar scale, not a property of these goals:
teams can change it with the setting `RETHINK_GOALS_RELIABLE_CHANGE_POINTS`. The flag is
descriptive; it never changes the improved/unchanged/deteriorated class, which follows the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

DEFAULT_RELIABLE_CHANGE_POINTS = 3
DEFAULT_REVIEWS_WITHOUT_PROGRESS = 3


class Progress(StrEnum):
    IMPROVED = "improved"
    UNCHANGED = "unchanged"
    DETERIORATED = "deteriorated"
    NO_SCORE = "no_score"


@dataclass(frozen=True)
class ProgressResult:
    progress: Progress
    baseline: int
    latest: int | None
    change: int | None  # latest - baseline; None when there is no tracking score yet
    reliable: bool | None  # |change| >= threshold; None when there is no tracking score yet


def classify(
    baseline: int,
    latest: int | None,
    *,
    reliable_change_points: int = DEFAULT_RELIABLE_CHANGE_POINTS,
) -> ProgressResult:
    if reliable_change_points < 1:
        raise ValueError("reliable_change_points must be at least 1")
    if latest is None:
        return ProgressResult(Progress.NO_SCORE, baseline, None, None, None)
    change = latest - baseline
    if change > 0:
        progress = Progress.IMPROVED
    elif change < 0:
        progress = Progress.DETERIORATED
    else:
        progress = Progress.UNCHANGED
    return ProgressResult(progress, baseline, latest, change, abs(change) >= reliable_change_points)


@dataclass(frozen=True)
class Review:
    """One evaluation of a sub-goal: which goal, when, and the score agreed at that review."""

    goal_key: str
    reviewed_on: date
    score: int


def reviews_without_progress(reviews: Sequence[Review], baselines: dict[str, int]) -> int:
    """How many of the plan's most recent reviews in a row showed no progress.

    A review shows progress when its score is above the previous review of the same sub-goal (or
    above the baseline for a first review). The overall goal is made of its sub-goals, so a run of
    reviews where no sub-goal moved up is a run without progress against the overall goal;
    Appendix 5 step 14 says to formulate again rather than carry on.
    """
    ordered = sorted(reviews, key=lambda r: r.reviewed_on)
    previous = dict(baselines)
    outcomes: list[bool] = []
    for review in ordered:
        before = previous.get(review.goal_key)
        outcomes.append(before is not None and review.score > before)
        previous[review.goal_key] = review.score
    run = 0
    for progressed in reversed(outcomes):
        if progressed:
            break
        run += 1
    return run


def needs_reformulation(
    reviews: Sequence[Review],
    baselines: dict[str, int],
    *,
    threshold: int = DEFAULT_REVIEWS_WITHOUT_PROGRESS,
) -> bool:
    if threshold < 1:
        raise ValueError("threshold must be at least 1")
    return reviews_without_progress(reviews, baselines) >= threshold


def review_due_on(last_scored_on: date, review_every_days: int) -> date:
    return last_scored_on + timedelta(days=review_every_days)


def is_overdue(last_scored_on: date, review_every_days: int, today: date) -> bool:
    """Overdue when no score was given within the agreed review frequency."""
    return today > review_due_on(last_scored_on, review_every_days)
