"""Uncertainty the report could not give: exact Poisson rate ratios and a fixed-effects estimate."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from scipy import stats as sps

Z95 = 1.959963984540054


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


def _irls_poisson(y: np.ndarray, t: np.ndarray, iterations: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Poisson GLM with log link by iteratively reweighted least squares on the cluster x month
    grid; returns (coefficients, fitted means)."""
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
        if abs(new_deviance - deviance) <= 1e-10 * (abs(new_deviance) + 0.1):
            break
        deviance = new_deviance
    return beta, mu


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
    beta, mu = _irls_poisson(y, treated)
    df = y.size - (n_c + n_m)
    pearson = float(np.sum((y - mu) ** 2 / mu))
    dispersion = max(1.0, pearson / df) if df > 0 else 1.0
    cov = np.linalg.inv(_normal_matrix(mu, treated)) * dispersion
    b, se = float(beta[-1]), math.sqrt(float(cov[-1, -1]))
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
