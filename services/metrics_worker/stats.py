"""Uncertainty the report could not give: exact Poisson rate ratios and a fixed-effects estimate."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from scipy import optimize
from scipy import stats as sps
from scipy.special import logsumexp as sps_logsumexp

Z95 = 1.959963984540054
# A fixed-effects estimate beyond these (a ratio past e^±12, an interval wider than e^±20) is a
# fit that ran off to infinity, not an estimate.
MAX_LOG_RATIO = 12.0
MAX_LOG_SE = 10.0


@dataclass(frozen=True)
class RateRatio:
    ratio: float | None
    ci95: tuple[float | None, float | None]
    p_value: float | None


def rate_ratio_exact(pre_count: int, pre_exposure: float, post_count: int, post_exposure: float) -> RateRatio:
    """Post/pre ratio of two Poisson rates, exact 95% CI and two-sided p-value (H0: ratio 1).

    Conditional on the total n, the post count is Binomial(n, p) with p = R*t1 / (R*t1 + t0); a
    Clopper-Pearson interval for p maps monotonically onto R. An infinite bound is ``None``.
    """
    n = pre_count + post_count
    if n == 0 or pre_exposure <= 0 or post_exposure <= 0:
        return RateRatio(None, (None, None), None)
    scale = pre_exposure / post_exposure

    def to_ratio(p: float) -> float | None:
        return None if p >= 1 else p / (1 - p) * scale

    lo = 0.0 if post_count == 0 else float(sps.beta.ppf(0.025, post_count, n - post_count + 1))
    hi = 1.0 if post_count == n else float(sps.beta.ppf(0.975, post_count + 1, n - post_count))
    ratio = None if pre_count == 0 else post_count / post_exposure / (pre_count / pre_exposure)
    p0 = post_exposure / (pre_exposure + post_exposure)
    p_value = float(sps.binomtest(post_count, n, p0).pvalue)
    return RateRatio(ratio, (to_ratio(lo), to_ratio(hi)), p_value)


# The exact stratified interval convolves every cluster's conditional distribution once; beyond
# this much work (multiply-adds) the counts are large enough for Mantel-Haenszel to be accurate.
EXACT_WORK_LIMIT = 30_000_000


@dataclass(frozen=True)
class PooledRateRatio:
    rate: RateRatio
    method: str  # "exact_conditional" | "mantel_haenszel"
    clusters: int  # strata that carry information (events, and months on both sides)


def _strata(strata: Sequence[tuple[int, float, int, float]]) -> list[tuple[int, float, int, float]]:
    """(pre count, pre exposure, post count, post exposure) of the strata with events on either
    side and exposure on both: the others say nothing about the ratio."""
    return [s for s in strata if s[0] + s[2] > 0 and s[1] > 0 and s[3] > 0]


def _mh_base(strata: Sequence[tuple[int, float, int, float]], add: float) -> tuple[float, float]:
    """Mantel-Haenszel numerator and denominator (with ``add`` events on each side of every stratum)."""
    num = sum((post + add) * t0 / (t0 + t1) for _, t0, post, t1 in strata)
    den = sum((pre + add) * t1 / (t0 + t1) for pre, t0, _, t1 in strata)
    return num, den


def _conditional_log_pmf(strata: Sequence[tuple[int, float, int, float]], base: float) -> np.ndarray:
    """log P(S = k | each stratum's total) at ratio ``base``, S the summed post counts.

    Each stratum's post count is Binomial(n, base*t1 / (base*t1 + t0)); their convolution by
    direct sums of non-negative terms keeps full relative precision down to ~1e-308, so one pass
    at a base near the estimate serves every other ratio by reweighting: P_R(k) is proportional
    to P_base(k) * (R / base)^k.
    """
    pmf = np.ones(1)
    for pre, t0, post, t1 in strata:
        n = pre + post
        pmf = np.convolve(pmf, sps.binom.pmf(np.arange(n + 1), n, base * t1 / (base * t1 + t0)))
    with np.errstate(divide="ignore"):
        return np.log(pmf)


def _reweighted(log_pmf: np.ndarray, log_ratio: float) -> np.ndarray:
    w = log_pmf + np.arange(len(log_pmf)) * log_ratio
    return np.exp(w - sps_logsumexp(w))


def _solve(f: Any, start: float) -> float:
    """Root in log ratio of an increasing f, bracketed outwards from ``start``."""
    lo, hi = start - 1.0, start + 1.0
    while f(lo) > 0:
        lo -= 2 * (hi - lo)
    while f(hi) < 0:
        hi += 2 * (hi - lo)
    return float(optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-12))


def _pooled_exact(strata: Sequence[tuple[int, float, int, float]]) -> RateRatio:
    num, den = _mh_base(strata, 0.5)
    base = num / den
    log_pmf = _conditional_log_pmf(strata, base)
    n_total = len(log_pmf) - 1
    s = sum(post for _, _, post, _ in strata)
    shift = math.log(base)
    k = np.arange(n_total + 1)

    def upper_tail(log_r: float) -> float:  # P(S >= s), increasing in the ratio
        return float(_reweighted(log_pmf, log_r - shift)[s:].sum())

    def lower_tail(log_r: float) -> float:  # P(S <= s), decreasing in the ratio
        return float(_reweighted(log_pmf, log_r - shift)[: s + 1].sum())

    lo = 0.0 if s == 0 else math.exp(_solve(lambda x: upper_tail(x) - 0.025, shift))
    hi = None if s == n_total else math.exp(_solve(lambda x: 0.025 - lower_tail(x), shift))
    if s == 0:
        ratio: float | None = 0.0
    elif s == n_total:
        ratio = None
    else:  # conditional maximum likelihood: the ratio at which the expected S is the observed S
        ratio = math.exp(_solve(lambda x: float((_reweighted(log_pmf, x - shift) * k).sum()) - s, shift))
    # two-sided p-value as scipy's binomtest: the probability, at ratio 1, of every S no likelier
    # than the observed one
    at_one = _reweighted(log_pmf, -shift)
    p_value = float(min(1.0, at_one[at_one <= at_one[s] * (1 + 1e-7)].sum()))
    return RateRatio(ratio, (lo, hi), p_value)


def _pooled_mantel_haenszel(strata: Sequence[tuple[int, float, int, float]]) -> RateRatio:
    """Mantel-Haenszel rate ratio, Greenland-Robins interval, stratified score test."""
    num, den = _mh_base(strata, 0.0)
    expected = sum((pre + post) * t1 / (t0 + t1) for pre, t0, post, t1 in strata)
    variance = sum((pre + post) * t0 * t1 / (t0 + t1) ** 2 for pre, t0, post, t1 in strata)
    observed = sum(post for _, _, post, _ in strata)
    p_value = float(sps.chi2.sf((observed - expected) ** 2 / variance, 1))
    if num == 0:  # no event after any start: 0, and the exact bound P(S = 0) = 2.5%
        return RateRatio(0.0, (0.0, _bound_with_all_on_one_side(strata, post=False)), p_value)
    if den == 0:  # no event before: unbounded above, exact lower bound P(S = N) = 2.5%
        return RateRatio(None, (_bound_with_all_on_one_side(strata, post=True), None), p_value)
    ratio = num / den
    se = math.sqrt(variance / (num * den))
    return RateRatio(ratio, (ratio * math.exp(-Z95 * se), ratio * math.exp(Z95 * se)), p_value)


def _bound_with_all_on_one_side(strata: Sequence[tuple[int, float, int, float]], post: bool) -> float:
    """The exact bound when every event fell on one side: the ratio R at which that outcome has
    probability 2.5%. All before: P(S = 0) = prod (t0 / (R t1 + t0))^n; all after:
    P(S = N) = prod (R t1 / (R t1 + t0))^n; each is monotone in R."""
    target = -math.log(0.025)

    def excess(log_r: float) -> float:
        r = math.exp(log_r)
        if post:  # -log P(S = N), decreasing in R
            total = sum((pre + n) * math.log1p(t0 / (r * t1)) for pre, t0, n, t1 in strata)
            return target - total
        total = sum((n + post_) * math.log1p(r * t1 / t0) for n, t0, post_, t1 in strata)
        return total - target

    return math.exp(_solve(excess, 0.0))


def pooled_rate_ratio(strata: Sequence[tuple[int, float, int, float]]) -> PooledRateRatio:
    """Post/pre rate ratio common to every cluster (stratum), each compared with itself.

    A crude ratio of summed counts over summed months mixes differences between clusters with
    change over time when RES starts are staggered, and can point the wrong way; conditioning on
    each cluster's total removes the cluster levels. Exact conditional inference (the one-stratum
    case is ``rate_ratio_exact``) while the convolution is cheap; Mantel-Haenszel beyond that.
    """
    used = _strata(strata)
    if not used:
        return PooledRateRatio(RateRatio(None, (None, None), None), "exact_conditional", 0)
    sizes = [pre + post + 1 for pre, _, post, _ in used]
    work = sum(size * sum(sizes[:i]) for i, size in enumerate(sizes))
    if work <= EXACT_WORK_LIMIT:
        return PooledRateRatio(_pooled_exact(used), "exact_conditional", len(used))
    return PooledRateRatio(_pooled_mantel_haenszel(used), "mantel_haenszel", len(used))


@dataclass(frozen=True)
class FixedEffectsEstimate:
    rate_ratio: float
    ci95: tuple[float, float]
    p_value: float
    dispersion: float
    clusters: int
    months: int
    observations: int


def _normal_matrix(w: np.ndarray, t: np.ndarray) -> np.ndarray:
    """X'WX for the design [cluster dummies | month dummies but the first | treated], built from
    the cluster x month grid of weights without forming X (it is mostly zeros)."""
    n_c, n_m = w.shape
    k = n_c + n_m  # n_c + (n_m - 1) + 1
    info = np.zeros((k, k))
    wt = w * t
    info[np.arange(n_c), np.arange(n_c)] = w.sum(axis=1)
    months = np.arange(n_c, n_c + n_m - 1)
    info[months, months] = w.sum(axis=0)[1:]
    info[:n_c, n_c : k - 1] = w[:, 1:]
    info[n_c : k - 1, :n_c] = w[:, 1:].T
    info[:n_c, -1] = info[-1, :n_c] = wt.sum(axis=1)
    info[n_c : k - 1, -1] = info[-1, n_c : k - 1] = wt.sum(axis=0)[1:]
    info[-1, -1] = wt.sum()
    return info


def _score(v: np.ndarray, t: np.ndarray) -> np.ndarray:
    """X'v for the same design, v on the grid."""
    return np.concatenate([v.sum(axis=1), v.sum(axis=0)[1:], [(v * t).sum()]])


def _irls_poisson(y: np.ndarray, t: np.ndarray, iterations: int = 50) -> tuple[np.ndarray, np.ndarray, bool]:
    """Poisson GLM with log link by iteratively reweighted least squares on the cluster x month
    grid; returns (coefficients, fitted means, converged)."""
    n_c, n_m = y.shape
    mu: np.ndarray = y + 0.5  # start from the data, the standard GLM initialisation
    eta: np.ndarray = np.log(mu)
    beta: np.ndarray = np.zeros(n_c + n_m)
    deviance = np.inf
    for _ in range(iterations):
        z = eta + (y - mu) / mu
        beta = np.linalg.solve(_normal_matrix(mu, t), _score(mu * z, t))
        months = np.concatenate([[0.0], beta[n_c : n_c + n_m - 1]])
        eta = beta[:n_c, None] + months[None, :] + beta[-1] * t
        mu = np.exp(eta)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(y > 0, y * np.log(y / mu), 0.0) - (y - mu)
        new_deviance = 2 * float(terms.sum())
        if not np.isfinite(new_deviance) or not np.all(np.isfinite(beta)):
            return beta, mu, False
        if abs(new_deviance - deviance) <= 1e-10 * (abs(new_deviance) + 0.1):
            return beta, mu, True
        deviance = new_deviance
    return beta, mu, False


def fixed_effects_rate_ratio(
    counts: Mapping[tuple[str, date], int],
    clusters: Sequence[str],
    months: Sequence[date],
    res_start: Mapping[str, date | None],
) -> FixedEffectsEstimate | None:
    """Comparison-group estimate for staggered RES starts.

    log E[y_cm] = cluster_c + month_m + beta * after_RES_cm, fitted on every cluster-month of the
    window (missing = 0). Clusters without RES are the comparison group; months absorb Leeds-wide
    trends. Returns exp(beta) with a quasi-Poisson 95% interval (dispersion from Pearson chi2, never
    below 1, because monthly counts are usually over-dispersed). None when not identified.
    """
    months = list(months)
    y_full = np.array([[counts.get((c, m), 0) for m in months] for c in clusters], dtype=float)
    treated_full = np.array(
        [[1.0 if (s := res_start.get(c)) is not None and m >= s else 0.0 for m in months] for c in clusters]
    )
    # A cluster or month with no events at all has an estimate of minus infinity and says nothing
    # about beta; drop it rather than let IRLS diverge.
    keep_c = np.flatnonzero(y_full.sum(axis=1) > 0)
    keep_m = np.flatnonzero(y_full.sum(axis=0) > 0)
    if len(keep_c) == 0 or len(keep_m) == 0:
        return None
    y = y_full[np.ix_(keep_c, keep_m)]
    treated = treated_full[np.ix_(keep_c, keep_m)]
    if treated.min() == treated.max():
        return None
    n_c, n_m = y.shape
    if np.linalg.matrix_rank(_normal_matrix(np.ones_like(y), treated)) < n_c + n_m:
        return None  # e.g. every cluster starts RES in the same month: no comparison possible
    beta, mu, converged = _irls_poisson(y, treated)
    if not converged:
        return None
    df = y.size - (n_c + n_m)
    pearson = float(np.sum((y - mu) ** 2 / mu))
    dispersion = max(1.0, pearson / df) if df > 0 else 1.0
    cov = np.linalg.inv(_normal_matrix(mu, treated)) * dispersion
    b, se = float(beta[-1]), math.sqrt(float(cov[-1, -1]))
    # With no events on one side of the comparison (e.g. none after RES in the fitted cells) the
    # likelihood keeps rising as beta runs off to infinity: IRLS stops on a flat deviance at a
    # huge |beta| with a huge standard error. That is "not identified by these data", not a
    # ratio of 1e-12 with an interval from 0 to infinity.
    if not (math.isfinite(b) and math.isfinite(se)) or abs(b) > MAX_LOG_RATIO or se > MAX_LOG_SE:
        return None
    p_value = float(2 * sps.norm.sf(abs(b / se)))
    return FixedEffectsEstimate(
        rate_ratio=math.exp(b),
        ci95=(math.exp(b - Z95 * se), math.exp(b + Z95 * se)),
        p_value=p_value,
        dispersion=dispersion,
        clusters=n_c,
        months=n_m,
        observations=y.size,
    )
