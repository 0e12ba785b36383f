import pytest

from services.metrics_worker.prepost import pre_post_table
from tests.metrics import report_data as rd

TOL = 0.01 + 1e-9  # "within ±0.01" of a printed figure, allowing for binary floating point


@pytest.mark.parametrize("measure", ["cp_plan_start", "cla_start"])
def test_reproduces_every_printed_figure_of_tables_1_and_2(measure):
    first, last = rd.window()
    rows, total = pre_post_table(rd.monthly_counts(measure), rd.res_starts(), first, last)
    by_cluster = {r.cluster: r for r in rows}
    assert len(rows) == 7
    for cluster, pm, pre, pa, qm, post, qa, diff in rd.printed_rows(measure):
        row = by_cluster[cluster]
        assert (row.pre_months, row.pre_count, row.post_months, row.post_count) == (
            pm,
            pre,
            qm,
            post,
        )
        assert row.pre_monthly_average == pytest.approx(pa, abs=TOL)
        assert row.post_monthly_average == pytest.approx(qa, abs=TOL)
        assert row.difference == pytest.approx(diff, abs=TOL)
    _, _, pre, pa, _, post, qa, diff = rd.printed_total(measure)
    assert (total.pre_count, total.post_count) == (pre, post)
    assert float(total.printed_pre_monthly_average) == pytest.approx(pa, abs=TOL)
    assert float(total.printed_post_monthly_average) == pytest.approx(qa, abs=TOL)
    assert float(total.printed_difference) == pytest.approx(diff, abs=TOL)
    # the exact sums stay available and agree to within the rounding of seven averages
    assert total.pre_monthly_average == pytest.approx(pa, abs=0.035)
    assert total.difference == pytest.approx(diff, abs=0.035)


def test_averages_keep_full_precision():
    first, last = rd.window()
    rows, _ = pre_post_table(rd.monthly_counts("cp_plan_start"), rd.res_starts(), first, last)
    res6 = next(r for r in rows if r.cluster == "RES 6")
    assert res6.post_monthly_average == 64 / 28


def test_months_without_records_are_zero_months_inside_the_window():
    from datetime import date

    counts = {("A", date(2019, 1, 1)): 6}
    rows, total = pre_post_table(counts, {"A": date(2019, 3, 1)}, date(2019, 1, 1), date(2019, 6, 1))
    (row,) = rows
    assert (row.pre_months, row.pre_count, row.post_months, row.post_count) == (2, 6, 4, 0)
    assert row.pre_monthly_average == 3.0
    assert row.post_monthly_average == 0.0
    assert row.difference == -3.0
    assert total.difference == -3.0


def test_res_start_after_window_has_no_post_average():
    from datetime import date

    rows, _ = pre_post_table({}, {"A": date(2021, 1, 1)}, date(2019, 1, 1), date(2019, 12, 1))
    assert rows[0].pre_months == 12
    assert rows[0].post_months == 0
    assert rows[0].post_monthly_average is None
    assert rows[0].difference is None


def test_window_must_not_be_reversed():
    from datetime import date

    with pytest.raises(ValueError):
        pre_post_table({}, {}, date(2020, 1, 1), date(2019, 1, 1))
