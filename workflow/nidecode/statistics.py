"""Confidence intervals and p-values for decoding accuracies."""

from __future__ import annotations

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


def group_relabelling_p(observed: list[float], nulls: list[list[float]],
                        n_draws: int = 100_000, seed: int = 0) -> tuple[float, float]:
    """Block-relabelling p-value of the mean over independent sessions, and the null's mean.

    Under the null each session's observed labelling is one of its equally likely block
    partitions (``observed[i]`` and ``nulls[i]``), independently across sessions, so the null
    of the mean is drawn by picking one partition per session (``n_draws`` Monte Carlo draws).
    """
    rng = np.random.default_rng(seed)
    draws = np.zeros(n_draws)
    for o, null in zip(observed, nulls, strict=True):
        options = np.array([o, *null])
        draws += options[rng.integers(0, len(options), n_draws)]
    draws /= len(observed)
    p = (1 + np.sum(draws >= np.mean(observed) - 1e-12)) / (1 + n_draws)
    return float(p), float(draws.mean())


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
