import math
from datetime import date

import numpy as np
import pytest
from scipy import stats as sps

from services.metrics_worker import stats
from services.metrics_worker.months import add_months
from services.metrics_worker.stats import fixed_effects_rate_ratio, pooled_rate_ratio, rate_ratio_exact


def _p(ratio, t_pre, t_post):
    return ratio * t_post / (ratio * t_post + t_pre)


def test_exact_interval_bounds_have_the_tail_probabilities_they_promise():
    rr = rate_ratio_exact(77, 21, 113, 37)
    assert rr.ratio == pytest.approx((113 / 37) / (77 / 21))
    lo, hi = rr.ci95
    assert lo < rr.ratio < hi
    n = 77 + 113
    # at the lower bound, seeing >= 113 post events has probability 2.5%; at the upper, <= 113
    assert sps.binom.sf(112, n, _p(lo, 21, 37)) == pytest.approx(0.025, rel=1e-6)
    assert sps.binom.cdf(113, n, _p(hi, 21, 37)) == pytest.approx(0.025, rel=1e-6)


def test_p_value_separates_no_change_from_a_real_drop():
    same = rate_ratio_exact(60, 30, 60, 30)
    assert same.ratio == 1.0
    assert same.p_value == pytest.approx(1.0)
    drop = rate_ratio_exact(200, 30, 100, 30)
    assert drop.p_value < 1e-6
    assert drop.ci95[1] < 1


def test_zero_counts_give_open_bounds_not_errors():
    no_post = rate_ratio_exact(10, 12, 0, 12)
    assert no_post.ratio == 0.0
    assert no_post.ci95[0] == 0.0
    assert no_post.ci95[1] is not None and no_post.ci95[1] > 0
    no_pre = rate_ratio_exact(0, 12, 10, 12)
    assert no_pre.ratio is None
    assert no_pre.ci95[1] is None
    nothing = rate_ratio_exact(0, 12, 0, 12)
    assert nothing.ratio is None and nothing.p_value is None


def _simulate(true_ratio, with_controls=True, seed=3):
    rng = np.random.default_rng(seed)
    months = [add_months(date(2015, 4, 1), i) for i in range(48)]
    clusters = [f"C{i}" for i in range(12)]
    level = {c: rng.uniform(2, 8) for c in clusters}
    season = {m: 1 + 0.3 * math.sin(i / 3) for i, m in enumerate(months)}
    starts = {c: months[14 + 4 * i] if i < 6 else None for i, c in enumerate(clusters)}
    if not with_controls:
        clusters = clusters[:6]
    counts = {}
    for c in clusters:
        for m in months:
            mean = level[c] * season[m] * (true_ratio if starts[c] and m >= starts[c] else 1)
            counts[(c, m)] = int(rng.poisson(mean))
    return counts, clusters, months, starts


def test_fixed_effects_recovers_a_known_effect():
    counts, clusters, months, starts = _simulate(0.7)
    est = fixed_effects_rate_ratio(counts, clusters, months, starts)
    assert est is not None
    assert est.ci95[0] < 0.7 < est.ci95[1]
    assert est.rate_ratio == pytest.approx(0.7, abs=0.08)
    assert est.clusters == 12 and est.months == 48


def test_fixed_effects_finds_no_effect_when_there_is_none():
    counts, clusters, months, starts = _simulate(1.0, seed=8)
    est = fixed_effects_rate_ratio(counts, clusters, months, starts)
    assert est is not None
    assert est.ci95[0] < 1.0 < est.ci95[1]
    assert est.p_value > 0.05


def test_fixed_effects_not_identified_when_every_cluster_starts_together():
    counts, clusters, months, _ = _simulate(0.7)
    same = dict.fromkeys(clusters, months[20])
    assert fixed_effects_rate_ratio(counts, clusters, months, same) is None


def test_normal_matrix_built_from_the_grid_equals_the_dense_design():
    from services.metrics_worker.stats import _normal_matrix, _score

    rng = np.random.default_rng(1)
    w = rng.uniform(0.5, 3, size=(4, 6))
    t = (rng.uniform(size=(4, 6)) > 0.5).astype(float)
    rows = []
    for c in range(4):
        for m in range(6):
            row = np.zeros(4 + 6)
            row[c] = 1
            if m:
                row[4 + m - 1] = 1
            row[-1] = t[c, m]
            rows.append(row)
    x = np.array(rows)
    assert np.allclose(_normal_matrix(w, t), x.T @ (x * w.ravel()[:, None]))
    assert np.allclose(_score(w, t), x.T @ w.ravel())


@pytest.mark.parametrize(
    "case", [(77, 21, 113, 37), (10, 12, 0, 12), (0, 12, 10, 12), (60, 30, 60, 30), (3, 1, 20, 1)]
)
def test_pooled_over_one_cluster_is_that_clusters_exact_ratio(case):
    alone, pooled = rate_ratio_exact(*case), pooled_rate_ratio([case])
    assert pooled.method == "exact_conditional"
    if alone.ratio is None:
        assert pooled.rate.ratio is None
    else:
        assert pooled.rate.ratio == pytest.approx(alone.ratio, rel=1e-9, abs=1e-12)
    for mine, theirs in zip(pooled.rate.ci95, alone.ci95, strict=True):
        assert (mine is None and theirs is None) or mine == pytest.approx(theirs, rel=1e-9, abs=1e-12)
    assert pooled.rate.p_value == pytest.approx(alone.p_value, rel=1e-9)


def _sum_of_binomials(strata, ratio):
    """P(S = k) for S the summed post counts, by brute-force convolution of scipy's pmfs."""
    pmf = np.ones(1)
    for pre, t0, post, t1 in strata:
        n = pre + post
        pmf = np.convolve(pmf, sps.binom.pmf(np.arange(n + 1), n, _p(ratio, t0, t1)))
    return pmf


def test_pooled_exact_bounds_have_the_tail_probabilities_they_promise():
    strata = [(30, 12, 14, 9), (8, 6, 9, 18), (51, 24, 40, 24)]
    pooled = pooled_rate_ratio(strata)
    s = sum(post for _, _, post, _ in strata)
    lo, hi = pooled.rate.ci95
    assert lo < pooled.rate.ratio < hi
    assert _sum_of_binomials(strata, lo)[s:].sum() == pytest.approx(0.025, rel=1e-6)
    assert _sum_of_binomials(strata, hi)[: s + 1].sum() == pytest.approx(0.025, rel=1e-6)
    # the estimate makes the expected summed post count the observed one
    at_estimate = _sum_of_binomials(strata, pooled.rate.ratio)
    assert (at_estimate * np.arange(len(at_estimate))).sum() == pytest.approx(s, rel=1e-9)
    at_one = _sum_of_binomials(strata, 1.0)
    assert pooled.rate.p_value == pytest.approx(at_one[at_one <= at_one[s] * (1 + 1e-7)].sum(), rel=1e-6)


def test_pooled_ratio_is_not_fooled_by_staggered_starts():
    # A: 10 a month, 6 months before and 42 after; B: 1 a month, 42 before and 6 after
    pooled = pooled_rate_ratio([(60, 6, 420, 42), (42, 42, 6, 6)])
    crude = rate_ratio_exact(60 + 42, 6 + 42, 420 + 6, 42 + 6)
    assert crude.ratio > 4  # summed counts over summed months: a fourfold "rise"
    assert pooled.rate.ratio == pytest.approx(1.0, abs=1e-9)
    assert pooled.rate.p_value == pytest.approx(1.0)


def test_pooled_falls_back_to_mantel_haenszel_for_large_counts_and_agrees_with_exact(monkeypatch):
    strata = [(400, 30, 300, 27), (250, 30, 260, 27), (90, 20, 60, 37)]
    exact = pooled_rate_ratio(strata)
    monkeypatch.setattr(stats, "EXACT_WORK_LIMIT", 0)
    mh = pooled_rate_ratio(strata)
    assert (exact.method, mh.method) == ("exact_conditional", "mantel_haenszel")
    assert mh.rate.ratio == pytest.approx(exact.rate.ratio, rel=0.01)
    for a, b in zip(mh.rate.ci95, exact.rate.ci95, strict=True):
        assert a == pytest.approx(b, rel=0.02)
    assert mh.rate.p_value == pytest.approx(exact.rate.p_value, rel=0.25)


def test_pooled_ignores_clusters_without_both_sides_or_events():
    assert pooled_rate_ratio([(5, 12, 0, 0), (0, 6, 0, 6)]).clusters == 0
    assert pooled_rate_ratio([(5, 12, 0, 0), (0, 6, 0, 6)]).rate.ratio is None
    assert pooled_rate_ratio([(5, 12, 0, 0), (20, 6, 10, 6)]).rate.ratio == pytest.approx(0.5)


def test_fixed_effects_is_none_when_no_event_follows_the_start():
    months = [date(2018, m, 1) for m in (1, 2, 3)]
    counts = {("A", months[0]): 2, ("A", months[1]): 3, ("N", months[0]): 1, ("N", months[1]): 2}
    counts[("N", months[2])] = 4
    assert fixed_effects_rate_ratio(counts, ["A", "N"], months, {"A": months[2], "N": None}) is None


@pytest.mark.parametrize(
    "strata", [[(60, 24.0, 0, 12.0), (40, 24.0, 0, 12.0)], [(0, 24.0, 60, 12.0), (0, 24.0, 40, 12.0)]]
)
def test_mantel_haenszel_with_every_event_on_one_side_gives_the_exact_bound(strata, monkeypatch):
    exact = pooled_rate_ratio(strata)
    monkeypatch.setattr(stats, "EXACT_WORK_LIMIT", 0)
    large = pooled_rate_ratio(strata)
    assert large.method == "mantel_haenszel"
    assert large.rate.ratio == exact.rate.ratio
    for a, b in zip(large.rate.ci95, exact.rate.ci95, strict=True):
        assert (a is None and b is None) or a == pytest.approx(b, rel=1e-9)
