import random

import pytest

from shared.disclosure import suppress_counts, suppress_line, suppress_table


def test_primary_suppression_hides_one_to_threshold_but_never_zero():
    assert suppress_counts([0, 1, 5, 6, None]) == [0, "c", "c", 6, None]


def test_threshold_is_configurable():
    assert suppress_counts([3, 4, 10], threshold=3) == ["c", 4, 10]


def test_without_total_a_lone_small_cell_needs_no_secondary():
    assert suppress_counts([3, 40, 50]) == ["c", 40, 50]


def test_with_total_lone_suppressed_cell_hides_next_smallest():
    assert suppress_counts([3, 50, 40, 0], total=93) == ["c", 50, "c", 0]


def test_with_total_two_primary_cells_need_nothing_more():
    assert suppress_counts([3, 2, 40], total=45) == ["c", "c", 40]


def test_secondary_skips_zero_cells():
    assert suppress_counts([4, 0, 0, 12, 30], total=46) == ["c", 0, 0, "c", 30]


def test_secondary_on_ties_hides_exactly_one_cell():
    assert suppress_counts([2, 9, 9], total=20) == ["c", "c", 9]


def test_small_total_is_suppressed_with_its_only_cell():
    cells, total = suppress_line([0, 3, 0], total=3)
    assert cells == [0, "c", 0]
    assert total == "c"


def test_large_total_stays_visible():
    cells, total = suppress_line([1, 30, 31], total=62)
    assert cells == ["c", "c", 31]
    assert total == 62


def test_rejects_inconsistent_or_negative_input():
    with pytest.raises(ValueError):
        suppress_counts([5, 10], total=12)
    with pytest.raises(ValueError):
        suppress_counts([-1, 10])


def test_table_returns_margins_and_applies_row_and_column_secondary():
    table = suppress_table([[3, 20, 30], [40, 50, 60]])
    assert table[0] == ["c", "c", 30, 53]
    # columns 0 and 1 each had one hidden cell, so the 2x2 rectangle closes in row 1
    assert table[1] == ["c", "c", 60, 150]
    assert table[2] == [43, 70, 90, 203]


def test_table_small_row_total_is_hidden():
    table = suppress_table([[0, 2, 0], [10, 20, 30]])
    assert table[0] == [0, "c", 0, "c"]
    # column 1 and the totals column now have one hidden cell each, so more cells go
    hidden_col1 = [row[1] for row in table].count("c")
    hidden_total_col = [row[3] for row in table].count("c")
    assert hidden_col1 >= 2
    assert hidden_total_col >= 2


def _lone_hidden_lines(table):
    lines = [list(r) for r in table] + [list(c) for c in zip(*table, strict=True)]
    lone = []
    for line in lines:
        hidden = [v for v in line if v == "c"]
        if len(hidden) == 1:
            lone.append(line)
    return lone


def test_no_line_of_a_random_table_can_be_solved_by_subtraction():
    rng = random.Random(5)
    for _ in range(200):
        rows = [[rng.choice([0, 0, 1, 3, 5, 6, 9, 25]) for _ in range(4)] for _ in range(3)]
        table = suppress_table(rows)
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                if 1 <= v <= 5:
                    assert table[i][j] == "c"
                if v == 0:
                    assert table[i][j] == 0
        assert _lone_hidden_lines(table) == [], rows
