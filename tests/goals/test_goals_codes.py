from collections import Counter

from services.goals_api.codes.table import by_code, codes, is_valid_code


def test_full_table_of_appendix_5_is_transcribed():
    table = codes()
    groups = Counter(c.group for c in table)
    # S1-S3, E1-E5, H1-H3, F1-F3, C1-C2, A1-A5 as listed in the domain brief.
    assert groups == {"S": 3, "E": 5, "H": 3, "F": 3, "C": 2, "A": 5}
    assert len({c.code for c in table}) == len(table) == 21
    numbered = [c.priority_number for c in table if c.priority_number is not None]
    assert numbered == list(range(1, 15)), "children's priorities are numbered 1-14 in order"


def test_code_rows_carry_outcome_and_priority_text():
    e5 = by_code()["E5"]
    assert e5.outcome.startswith("All children and young people do well at all levels of learning")
    assert "improve attendance" in e5.priority
    assert by_code()["A5"].priority == "Reduce the incidents of domestic violence"
    assert by_code()["S3"].priority_number is None


def test_code_validation():
    assert is_valid_code("F2")
    assert not is_valid_code("F4")
    assert not is_valid_code("s1")
