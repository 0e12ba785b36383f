"""Unit tests: practice-quality means against the 2.5 baseline and inter-rater agreement."""

import uuid
from decimal import Decimal

import pytest

from services.formulation_api.practice_quality.stats import (
    Rating,
    Skill,
    agreement,
    paired_scores,
    recording_scores,
    skill_summary,
    weighted_kappa,
)


def _ratings(rec: uuid.UUID, skill: Skill, a: int, b: int) -> list[Rating]:
    return [Rating(rec, "coder-a", skill, a), Rating(rec, "coder-b", skill, b)]


def test_means_against_baseline() -> None:
    r1, r2 = uuid.uuid4(), uuid.uuid4()
    ratings = [
        *_ratings(r1, Skill.EMPATHY, 2, 3),
        *_ratings(r2, Skill.EMPATHY, 2, 2),
        *_ratings(r1, Skill.COLLABORATION, 4, 4),
    ]
    assert recording_scores(ratings)[r1] == {
        "empathy": Decimal("2.50"),
        "collaboration": Decimal("4.00"),
    }
    summary = skill_summary(ratings)
    emp = summary["empathy"]
    assert emp["mean"] == Decimal("2.25")
    assert emp["difference_from_baseline"] == Decimal("-0.25")
    assert emp["above_baseline"] is False
    assert (emp["min"], emp["max"]) == (Decimal("2.00"), Decimal("2.50"))
    assert summary["collaboration"]["above_baseline"] is True
    assert "child_focus" not in summary


def test_pairs_need_two_coders() -> None:
    rec = uuid.uuid4()
    ratings = [*_ratings(rec, Skill.EMPATHY, 3, 4), Rating(rec, "coder-a", Skill.CHILD_FOCUS, 5)]
    assert paired_scores(ratings) == [(3, 4)]


def test_perfect_agreement_kappa_is_one() -> None:
    assert weighted_kappa([(1, 1), (3, 3), (5, 5), (2, 2)]) == 1.0


def test_kappa_known_value() -> None:
    # Hand-computed: pairs (1,2),(2,1),(3,3),(4,5); quadratic weights over k=5.
    # observed weighted disagreement = (1+1+0+1)/16/4 = 0.046875
    # expected: row/col marginals 1/4 each on {1,2,3,4} and {1,2,3,5}
    pairs = [(1, 2), (2, 1), (3, 3), (4, 5)]
    rows, cols = [1, 2, 3, 4], [2, 1, 3, 5]
    expected = sum((a - b) ** 2 / 16 for a in rows for b in cols) / 16
    assert weighted_kappa(pairs) == pytest.approx(1 - 0.046875 / expected, abs=1e-4)


def test_kappa_undefined_without_variation() -> None:
    assert weighted_kappa([(3, 3), (3, 3)]) is None
    assert weighted_kappa([]) is None


def test_systematic_disagreement_gives_negative_kappa() -> None:
    kappa = weighted_kappa([(1, 5), (5, 1), (2, 4), (4, 2)])
    assert kappa is not None and kappa < 0


def test_agreement_percentages() -> None:
    rec = uuid.uuid4()
    ratings = [
        *_ratings(rec, Skill.EMPATHY, 3, 3),
        *_ratings(rec, Skill.COLLABORATION, 3, 4),
        *_ratings(rec, Skill.CHILD_FOCUS, 2, 5),
        *_ratings(rec, Skill.PURPOSEFULNESS, 4, 4),
    ]
    out = agreement(ratings)
    assert out["pairs"] == 4
    assert out["exact_percent"] == Decimal("50.00")
    assert out["within_one_percent"] == Decimal("75.00")
    assert agreement([])["exact_percent"] is None
