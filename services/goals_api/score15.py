"""SCORE-15 family functioning (Stratton et al., 2010; 2014): scoring one member's answers.

Fifteen statements about the family. Item values are entered exactly as ticked on the published
form: 1 = "Describes us: very well", 2 = well, 3 = partly, 4 = not well, 5 = "not at all".

Scoring follows the published direction: **a higher score means more difficulties**. The five
strengths and adaptability statements (items 1, 3, 6, 10, 15) are positive, so "very well" (1) is
already the least difficulty. The ten statements about difficulties and disrupted communication are
negative ("We find it hard to deal with everyday problems"), so they are reverse-scored (6 - x).
Scores are item means (1.00-5.00), as in the published norms; change is T2 - T1, so a negative
change is an improvement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

ITEMS = 15
ITEM_MIN, ITEM_MAX = 1, 5
STRENGTHS_AND_ADAPTABILITY = (1, 3, 6, 10, 15)
OVERWHELMED_BY_DIFFICULTIES = (5, 7, 9, 11, 14)
DISRUPTED_COMMUNICATION = (2, 4, 8, 12, 13)
REVERSED_ITEMS = frozenset(OVERWHELMED_BY_DIFFICULTIES + DISRUPTED_COMMUNICATION)
SUBSCALES: dict[str, tuple[int, ...]] = {
    "strengths_and_adaptability": STRENGTHS_AND_ADAPTABILITY,
    "overwhelmed_by_difficulties": OVERWHELMED_BY_DIFFICULTIES,
    "disrupted_communication": DISRUPTED_COMMUNICATION,
}
_CENTI = Decimal("0.01")


class Score15Error(ValueError):
    def __init__(self, field: str, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.rule = rule


@dataclass(frozen=True)
class Score15Result:
    total: Decimal
    strengths_and_adaptability: Decimal
    overwhelmed_by_difficulties: Decimal
    disrupted_communication: Decimal

    def as_dict(self) -> dict[str, Decimal]:
        return {
            "total": self.total,
            "strengths_and_adaptability": self.strengths_and_adaptability,
            "overwhelmed_by_difficulties": self.overwhelmed_by_difficulties,
            "disrupted_communication": self.disrupted_communication,
        }


def _mean(values: Sequence[int]) -> Decimal:
    return (Decimal(sum(values)) / Decimal(len(values))).quantize(_CENTI, ROUND_HALF_UP)


def difficulty_scores(items: Sequence[int]) -> list[int]:
    """Item values oriented so that 5 is always the most difficulty (difficulty items reversed)."""
    if len(items) != ITEMS:
        raise Score15Error("items", "length", f"SCORE-15 needs exactly {ITEMS} item answers")
    for number, value in enumerate(items, start=1):
        if not ITEM_MIN <= value <= ITEM_MAX:
            raise Score15Error(
                f"items[{number - 1}]", "range", f"item {number} must be {ITEM_MIN}-{ITEM_MAX}"
            )
    return [(ITEM_MIN + ITEM_MAX - v) if n in REVERSED_ITEMS else v for n, v in enumerate(items, start=1)]


def score(items: Sequence[int]) -> Score15Result:
    oriented = difficulty_scores(items)

    def sub(numbers: tuple[int, ...]) -> Decimal:
        return _mean([oriented[n - 1] for n in numbers])

    return Score15Result(
        total=_mean(oriented),
        strengths_and_adaptability=sub(STRENGTHS_AND_ADAPTABILITY),
        overwhelmed_by_difficulties=sub(OVERWHELMED_BY_DIFFICULTIES),
        disrupted_communication=sub(DISRUPTED_COMMUNICATION),
    )


def change(t1: Score15Result, t2: Score15Result) -> dict[str, Decimal]:
    """T2 - T1 for the total and each subscale; negative means fewer difficulties."""
    before, after = t1.as_dict(), t2.as_dict()
    return {k: after[k] - before[k] for k in before}
