"""Unit tests: forum attendance, feedback percentages and Practice and Progress alignment."""

from decimal import Decimal

from services.formulation_api.forums.stats import (
    Confidence,
    FeedbackAnswer,
    alignment,
    attendance_share,
    feedback_summary,
    percent,
    spread,
)


def test_percent_rounds_half_up_and_handles_zero() -> None:
    assert percent(1, 8) == Decimal("12.5")
    assert percent(2, 3) == Decimal("66.7")
    assert percent(0, 0) is None


def test_attendance_share() -> None:
    share = attendance_share(["social_work"] * 4 + ["health"] + ["cluster_services"] * 3 + ["x"] * 2)
    assert share["social_work"] == {"count": 4, "percent": Decimal("40.0")}
    assert share["health"]["percent"] == Decimal("10.0")
    assert sum(v["count"] for v in share.values()) == 10


def test_feedback_summary() -> None:
    answers = [
        FeedbackAnswer(Confidence.VERY_MUCH, Confidence.QUITE_A_BIT, True, True),
        FeedbackAnswer(Confidence.VERY_MUCH, Confidence.VERY_MUCH, True, False),
        FeedbackAnswer(Confidence.NOT_AT_ALL, None, False, None),
    ]
    summary = feedback_summary(answers)
    und = summary["improved_understanding"]
    assert und["percent"]["very_much"] == Decimal("66.7")
    assert und["any_improvement_percent"] == Decimal("66.7")
    assert summary["confidence"]["answered"] == 2
    assert summary["confidence"]["percent"]["quite_a_bit"] == Decimal("50.0")
    assert summary["broadened_perspective"]["yes_percent"] == Decimal("66.7")
    assert summary["multi_agency_networking"] == {"answered": 2, "yes_percent": Decimal("50.0")}


def test_spread() -> None:
    s = spread([2, 4, 4, 4, 5, 5, 7, 9])
    assert (s.mean, s.sd, s.range) == (5.0, 2.0, 7.0)


def test_alignment_converged() -> None:
    result = alignment({"a": (2, 5), "b": (8, 6), "c": (5, 5)})
    assert result is not None
    assert result.participants == 3
    assert result.start.range == 6.0 and result.end.range == 1.0
    assert result.converged


def test_alignment_diverged_or_unchanged() -> None:
    diverged = alignment({"a": (5, 2), "b": (6, 9)})
    assert diverged is not None and not diverged.converged
    same = alignment({"a": (3, 4), "b": (5, 6)})
    assert same is not None and not same.converged


def test_alignment_ignores_incomplete_pairs() -> None:
    result = alignment({"a": (2, 5), "b": (8, None), "c": (None, 1), "d": (6, 5)})
    assert result is not None and result.participants == 2
    assert alignment({"a": (2, 5), "b": (None, 3)}) is None
