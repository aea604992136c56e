"""Confidence intervals and p-values for decoding accuracies."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n`` (accuracy of ``n`` trials)."""
    if n == 0:
        return (float("nan"), float("nan"))
    z = stats.norm.ppf(0.5 + level / 2)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return (float(centre - half), float(centre + half))


def binomial_p(k: int, n: int, chance: float) -> float:
    """One-sided exact binomial p-value of ``k`` or more correct out of ``n`` at ``chance``."""
    return float(stats.binomtest(k, n, chance, alternative="greater").pvalue)


def permutation_p(observed: float, null: np.ndarray) -> float:
    """(1 + #null >= observed) / (1 + n): never 0, valid for few permutations."""
    null = np.asarray(null, dtype=float)
    return float((1 + np.sum(null >= observed - 1e-12)) / (1 + len(null)))


# Exact enumeration is used while the number of joint relabellings stays below this; above it
# (e.g. 20 sessions of 10 partitions) the null is drawn by Monte Carlo.
EXACT_LIMIT = 10**12


def group_null_size(nulls: list[list[float]]) -> int:
    """Number of equally likely joint labellings under the group null: prod(1 + len(null_i))."""
    return math.prod(1 + len(n) for n in nulls)


def _half_sums(options: list[np.ndarray]) -> np.ndarray:
    """Every sum of one option per session (all combinations), as a flat array."""
    sums = np.zeros(1)
    for o in options:
        sums = (sums[:, None] + o[None, :]).ravel()
    return sums


def group_relabelling_p(observed: list[float], nulls: list[list[float]],
                        n_draws: int = 100_000, seed: int = 0) -> tuple[float, float]:
    """Block-relabelling p-value of the mean over independent sessions, and the null's mean.

    Under the null each session's observed labelling is one of its equally likely block
    partitions (``observed[i]`` and ``nulls[i]``), independently across sessions, so the null
    of the mean picks one partition per session. While there are at most ``EXACT_LIMIT`` joint
    picks the p-value is exact: the sessions are split in two halves, every sum of each half is
    listed, and the pairs reaching the observed total are counted with a sorted search (meet in
    the middle). Beyond it, ``n_draws`` Monte Carlo draws (p then resolves about 1 / n_draws).
    The null's mean is exact either way (the mean of each session's options, averaged).
    """
    options = [np.array([o, *null], dtype=float) for o, null in zip(observed, nulls,
                                                                    strict=True)]
    null_mean = float(np.mean([o.mean() for o in options]))
    target = float(np.sum(observed)) - 1e-12 * len(observed)
    if group_null_size(nulls) <= EXACT_LIMIT:
        # Balance the halves by their number of combinations.
        order = sorted(range(len(options)), key=lambda i: -len(options[i]))
        left, right, n_left, n_right = [], [], 1, 1
        for i in order:
            if n_left <= n_right:
                left.append(options[i])
                n_left *= len(options[i])
            else:
                right.append(options[i])
                n_right *= len(options[i])
        a, b = _half_sums(left), np.sort(_half_sums(right))
        reach = len(b) - np.searchsorted(b, target - a, side="left")
        return float(reach.sum() / (len(a) * len(b))), null_mean
    rng = np.random.default_rng(seed)
    draws = np.zeros(n_draws)
    for o in options:
        draws += o[rng.integers(0, len(o), n_draws)]
    p = (1 + np.sum(draws >= target)) / (1 + n_draws)
    return float(p), null_mean


def add_statistics(metrics: dict) -> dict:
    """Add the 95 % Wilson interval and the binomial p-value against chance to ``metrics``."""
    n = int(metrics["n_test"])
    k = int(round(metrics["accuracy"] * n))
    lo, hi = wilson_interval(k, n)
    metrics.update(ci95_low=lo, ci95_high=hi, n_correct=k,
                   p_binomial=binomial_p(k, n, metrics["chance_level"]))
    if metrics.get("null_accuracies"):
        metrics["p_permutation"] = permutation_p(metrics["accuracy"], metrics["null_accuracies"])
        metrics["n_permutations"] = len(metrics["null_accuracies"])
    return metrics


def paired_sign_flip_p(differences: np.ndarray | list[float], n_draws: int = 100_000,
                       seed: int = 0) -> float:
    """Two-sided paired permutation test of a mean difference over animals.

    Under the null that two decoders are equally accurate, each animal's difference is as
    likely positive as negative: the p-value is the share of the 2^n sign flips whose mean is
    at least as far from 0 as the observed one (exact up to 2^20 flips, else ``n_draws`` seeded
    draws, the observed counted once). Its floor is 2 / 2^n: 0.25 with 3 animals, 0.0078 with 8.
    """
    d = np.asarray(differences, dtype=float)
    n = len(d)
    if n == 0:
        return float("nan")
    observed = abs(d.mean()) - 1e-12
    if n <= 20:
        signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
        return float(np.mean(np.abs(signs @ d) / n >= observed))
    rng = np.random.default_rng([seed, 4099])
    signs = rng.choice([-1.0, 1.0], size=(n_draws, n))
    return float((1 + np.sum(np.abs(signs @ d) / n >= observed)) / (1 + n_draws))


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of ``p_values`` (family-wise error), in their order."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()
