from decimal import Decimal

import pytest

from services.goals_api import score15

# As ticked on the published form (1 = "Describes us: very well" ... 5 = "not at all").
HEALTHY = [1 if n in score15.STRENGTHS_AND_ADAPTABILITY else 5 for n in range(1, 16)]
STRUGGLING = [5 if n in score15.STRENGTHS_AND_ADAPTABILITY else 1 for n in range(1, 16)]


def test_subscales_partition_the_fifteen_items():
    items = [n for sub in score15.SUBSCALES.values() for n in sub]
    assert sorted(items) == list(range(1, 16))
    assert {2, 4, 5, 7, 8, 9, 11, 12, 13, 14} == score15.REVERSED_ITEMS


def test_higher_score_means_more_difficulties():
    healthy, struggling = score15.score(HEALTHY), score15.score(STRUGGLING)
    assert healthy.total == Decimal("1.00")
    assert struggling.total == Decimal("5.00")
    for key, value in struggling.as_dict().items():
        assert value > healthy.as_dict()[key]


def test_difficulty_items_are_reverse_scored():
    answers = [3] * 15
    answers[0] = 1  # item 1 (a strength: "we talk about things which matter") very well
    result = score15.score(answers)
    assert result.strengths_and_adaptability == Decimal("2.60")  # (1+3+3+3+3)/5
    assert result.total == Decimal("2.87")  # (1 + 14*3)/15
    answers[0], answers[1] = 3, 1  # item 2 (a difficulty: "people don't tell the truth") very well
    assert score15.score(answers).disrupted_communication == Decimal("3.40")  # (5+3+3+3+3)/5


def test_change_is_t2_minus_t1():
    delta = score15.change(score15.score(STRUGGLING), score15.score(HEALTHY))
    assert delta["total"] == Decimal("-4.00")


@pytest.mark.parametrize(
    ("answers", "field"),
    [([3] * 14, "items"), ([3] * 14 + [6], "items[14]"), ([0] + [3] * 14, "items[0]")],
)
def test_invalid_answers_name_the_field(answers, field):
    with pytest.raises(score15.Score15Error) as caught:
        score15.score(answers)
    assert caught.value.field == field
