"""Practice-quality ratings (section 3.6): two coders rate a recorded formulation 1-5 on 5 skills.

Reports per-skill means against the 2.5 typical average, each recording's scores, and how far the
two coders agree (exact, within one point, and weighted Cohen's kappa over the 1-5 scale).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Literal


class Skill(StrEnum):
    COLLABORATION = "collaboration"
    EMPATHY = "empathy"
    PURPOSEFULNESS = "purposefulness"
    CLARITY_OF_ISSUES = "clarity_of_issues"
    CHILD_FOCUS = "child_focus"


BASELINE = Decimal("2.5")
SCALE = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Rating:
    recording_id: uuid.UUID
    coder: str
    skill: Skill
    score: int


def _dec(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def recording_scores(ratings: Sequence[Rating]) -> dict[uuid.UUID, dict[str, Decimal]]:
    """Each recording's score per skill: the mean of its coders' ratings."""
    acc: dict[uuid.UUID, dict[Skill, list[int]]] = defaultdict(lambda: defaultdict(list))
    for r in ratings:
        acc[r.recording_id][r.skill].append(r.score)
    return {
        rec: {skill.value: mean_score(sum(v), len(v)) for skill, v in skills.items()}
        for rec, skills in acc.items()
    }


def mean_score(total: int, n: int) -> Decimal:
    """A recording's score on one skill: the mean of its coders' ratings, to two places."""
    return _dec(Decimal(total) / n)


def skill_summary(ratings: Sequence[Rating]) -> dict[str, dict[str, object]]:
    """Per skill: mean of recording scores, lowest, highest, and the difference from 2.5."""
    spread: dict[str, Counter[Decimal]] = defaultdict(Counter)
    for scores in recording_scores(ratings).values():
        for skill, value in scores.items():
            spread[skill][value] += 1
    return skill_summary_of(spread)


def skill_summary_of(spread: Mapping[str, Mapping[Decimal, int]]) -> dict[str, dict[str, object]]:
    """skill_summary from each skill's recording scores and how many recordings have each score."""
    out: dict[str, dict[str, object]] = {}
    for skill in Skill:
        values = {v: k for v, k in spread.get(skill.value, {}).items() if k}
        if not values:
            continue
        mean = _dec(sum((v * k for v, k in values.items()), Decimal(0)) / sum(values.values()))
        out[skill.value] = {
            "recordings": sum(values.values()),
            "mean": mean,
            "min": min(values),
            "max": max(values),
            "baseline": BASELINE,
            "difference_from_baseline": mean - BASELINE,
            "above_baseline": mean > BASELINE,
        }
    return out


def paired_scores(ratings: Sequence[Rating]) -> list[tuple[int, int]]:
    """(first coder, second coder) pairs per recording and skill; coders ordered by id."""
    acc: dict[tuple[uuid.UUID, Skill], dict[str, int]] = defaultdict(dict)
    for r in ratings:
        acc[(r.recording_id, r.skill)][r.coder] = r.score
    pairs = []
    for by_coder in acc.values():
        if len(by_coder) == 2:
            a, b = (by_coder[c] for c in sorted(by_coder))
            pairs.append((a, b))
    return pairs


def weighted_kappa(
    pairs: Sequence[tuple[int, int]] | Mapping[tuple[int, int], int],
    weighting: Literal["linear", "quadratic"] = "quadratic",
) -> float | None:
    """Cohen's weighted kappa on the 1-5 scale; None when undefined (no pairs, no variation).

    Takes the pairs one by one, or each distinct pair with how many times it occurs."""
    counts = Counter(pairs) if not isinstance(pairs, Mapping) else Counter(dict(pairs))
    if sum(counts.values()) == 0:
        return None
    k = len(SCALE)
    index = {v: i for i, v in enumerate(SCALE)}
    observed = [[0.0] * k for _ in range(k)]
    for (a, b), times in counts.items():
        observed[index[a]][index[b]] += times
    n = float(sum(counts.values()))
    rows = [sum(observed[i]) / n for i in range(k)]
    cols = [sum(observed[i][j] for i in range(k)) / n for j in range(k)]
    power = 2 if weighting == "quadratic" else 1
    num = den = 0.0
    for i in range(k):
        for j in range(k):
            w = (abs(i - j) / (k - 1)) ** power
            num += w * observed[i][j] / n
            den += w * rows[i] * cols[j]
    if den == 0:
        return None
    return round(1 - num / den, 4)


def agreement(ratings: Sequence[Rating]) -> dict[str, object]:
    return agreement_of(Counter(paired_scores(ratings)))


def agreement_of(pairs: Mapping[tuple[int, int], int]) -> dict[str, object]:
    """agreement from each distinct (first coder, second coder) pair and how often it occurs."""
    n = sum(pairs.values())
    exact = sum(k for (a, b), k in pairs.items() if a == b)
    within = sum(k for (a, b), k in pairs.items() if abs(a - b) <= 1)

    def pct(x: int) -> Decimal | None:
        return None if n == 0 else _dec(Decimal(x) * 100 / n)

    return {
        "pairs": n,
        "exact_percent": pct(exact),
        "within_one_percent": pct(within),
        "weighted_kappa": weighted_kappa(pairs),
        "linear_kappa": weighted_kappa(pairs, "linear"),
    }
