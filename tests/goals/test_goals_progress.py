from datetime import date

import pytest

from services.goals_api.progress import (
    Progress,
    Review,
    classify,
    is_overdue,
    needs_reformulation,
    reviews_without_progress,
)


@pytest.mark.parametrize(
    ("baseline", "latest", "expected", "change"),
    [
        (3, 8, Progress.IMPROVED, 5),
        (0, 1, Progress.IMPROVED, 1),
        (5, 5, Progress.UNCHANGED, 0),
        (0, 0, Progress.UNCHANGED, 0),
        (6, 2, Progress.DETERIORATED, -4),
        (4, None, Progress.NO_SCORE, None),
    ],
)
def test_classify_against_baseline(baseline, latest, expected, change):
    result = classify(baseline, latest)
    assert result.progress is expected
    assert result.change == change


def test_reliable_change_threshold_is_configurable():
    assert classify(3, 6).reliable is True  # default 3 points
    assert classify(3, 5).reliable is False
    assert classify(5, 2).reliable is True  # reliable deterioration too
    assert classify(3, 5, reliable_change_points=2).reliable is True
    assert classify(3, None).reliable is None
    with pytest.raises(ValueError):
        classify(3, 5, reliable_change_points=0)


def test_reviews_without_progress_counts_the_latest_run():
    baselines = {"a": 3, "b": 5}
    reviews = [
        Review("a", date(2024, 1, 8), 4),  # progress
        Review("b", date(2024, 1, 8), 5),  # none
        Review("a", date(2024, 1, 15), 4),  # none
        Review("b", date(2024, 1, 15), 4),  # none (went down)
    ]
    assert reviews_without_progress(reviews, baselines) == 3
    assert needs_reformulation(reviews, baselines, threshold=3)
    assert not needs_reformulation(reviews, baselines, threshold=4)
    later = [*reviews, Review("b", date(2024, 1, 22), 6)]
    assert reviews_without_progress(later, baselines) == 0


def test_overdue_after_review_frequency():
    assert not is_overdue(date(2024, 1, 1), 7, date(2024, 1, 8))
    assert is_overdue(date(2024, 1, 1), 7, date(2024, 1, 9))
    assert not is_overdue(date(2024, 1, 1), 14, date(2024, 1, 9))
