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
