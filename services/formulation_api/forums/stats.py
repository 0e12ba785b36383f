"""Forum reports: attendance share by sector, feedback percentages, Practice and Progress alignment.

Section 3.5: every participant scores the scale of the issue at the start and at the end "to
ascertain if closer alignment of views has been achieved". Spread is the population standard
deviation (with the range alongside, as people read it more easily); views converged when the
end spread is strictly smaller than the start spread.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum


class ForumType(StrEnum):
    RETHINK = "rethink_forum"
    NEXT_STEPS = "next_steps_forum"
    COMBINED = "combined_rethink_next_steps"
    PRACTICE_AND_PROGRESS = "practice_and_progress"
    RETHINK_SPACE = "rethink_space"
    HOT_HOUSE = "hot_house"


class Sector(StrEnum):
    SOCIAL_WORK = "social_work"
    CLUSTER_SERVICES = "cluster_services"
    EDUCATION = "education"
    HEALTH = "health"
    VOLUNTARY_COMMUNITY = "voluntary_community"
    POLICE = "police"
    FAMILY = "family"
    OTHER = "other"


class Confidence(StrEnum):
    """The report's four-point scale ("quite a bit", "very much")."""

    NOT_AT_ALL = "not_at_all"
    A_LITTLE = "a_little"
    QUITE_A_BIT = "quite_a_bit"
    VERY_MUCH = "very_much"


def percent(part: int, whole: int) -> Decimal | None:
    """Percentage to one decimal place; None for an empty denominator (not 0%)."""
    if whole == 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def attendance_share(sectors: Iterable[str] | Mapping[str, int]) -> dict[str, dict[str, object]]:
    """Count and percentage of attendances per sector (one entry per attendance, or counts)."""
    counts = Counter(sectors) if not isinstance(sectors, Mapping) else Counter(dict(sectors))
    total = sum(counts.values())
    return {sector: {"count": n, "percent": percent(n, total)} for sector, n in sorted(counts.items())}


@dataclass(frozen=True)
class FeedbackAnswer:
    improved_understanding: Confidence | None
    confidence: Confidence | None
    broadened_perspective: bool | None
    multi_agency_networking: bool | None


def feedback_summary(answers: Iterable[FeedbackAnswer] | Mapping[FeedbackAnswer, int]) -> dict[str, object]:
    """Percentages of those answering each question (unanswered questions are left out).

    Takes the answers one by one, or each distinct answer with how many gave it (as SQL counts them).
    """
    counts = Counter(answers) if not isinstance(answers, Mapping) else Counter(dict(answers))

    def scale(question: str) -> dict[str, object]:
        by_value: Counter[Confidence] = Counter()
        for answer, k in counts.items():
            value = getattr(answer, question)
            if value is not None:
                by_value[value] += k
        n = sum(by_value.values())
        return {
            "answered": n,
            "percent": {c.value: percent(by_value[c], n) for c in Confidence},
            # "improved" in the report = any answer above "not at all".
            "any_improvement_percent": percent(n - by_value[Confidence.NOT_AT_ALL], n),
        }

    def yes(question: str) -> dict[str, object]:
        answered = yes_count = 0
        for answer, k in counts.items():
            value = getattr(answer, question)
            if value is not None:
                answered += k
                yes_count += k if value else 0
        return {"answered": answered, "yes_percent": percent(yes_count, answered)}

    return {
        "responses": sum(counts.values()),
        "improved_understanding": scale("improved_understanding"),
        "confidence": scale("confidence"),
        "broadened_perspective": yes("broadened_perspective"),
        "multi_agency_networking": yes("multi_agency_networking"),
    }


@dataclass(frozen=True)
class Spread:
    n: int
    mean: float
    sd: float
    range: float


def spread(scores: Sequence[float]) -> Spread:
    if not scores:
        raise ValueError("spread needs at least one score")
    n = len(scores)
    mean = sum(scores) / n
    sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / n)
    return Spread(n, round(mean, 3), round(sd, 3), float(max(scores) - min(scores)))


@dataclass(frozen=True)
class Alignment:
    participants: int
    start: Spread
    end: Spread
    converged: bool


def alignment(pairs: Mapping[str, tuple[float | None, float | None]]) -> Alignment | None:
    """Alignment over participants who scored at both start and end; None if fewer than two."""
    complete = [(s, e) for s, e in pairs.values() if s is not None and e is not None]
    if len(complete) < 2:
        return None
    start = spread([s for s, _ in complete])
    end = spread([e for _, e in complete])
    return Alignment(len(complete), start, end, converged=end.sd < start.sd)
