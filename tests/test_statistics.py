"""Intervals and p-values against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from nidecode.evaluation.statistics import (
    add_statistics,
    binomial_p,
    permutation_p,
    wilson_interval,
)


def test_wilson_interval_by_hand():
    # k = 80, n = 100, z^2 = 3.8415: centre = (0.8 + z^2/200) / (1 + z^2/100) = 0.78891,
    # half = z * sqrt(0.0016 + z^2/40000) / (1 + z^2/100) = 0.07773.
    lo, hi = wilson_interval(80, 100)
    assert lo == pytest.approx(0.78891 - 0.07773, abs=2e-4)
    assert hi == pytest.approx(0.78891 + 0.07773, abs=2e-4)
    lo, hi = wilson_interval(0, 10)
    assert lo == pytest.approx(0.0, abs=1e-12) and 0.25 < hi < 0.35


def test_binomial_p_by_hand():
    # P(X >= 9 | n = 10, p = 0.5) = (10 + 1) / 1024.
    assert binomial_p(9, 10, 0.5) == pytest.approx(11 / 1024)
    assert binomial_p(0, 10, 0.5) == pytest.approx(1.0)


def test_permutation_p_counts_ties_and_never_reaches_zero():
    assert permutation_p(0.9, np.array([0.5, 0.6, 0.9, 0.95])) == pytest.approx(3 / 5)
    assert permutation_p(0.99, np.zeros(99)) == pytest.approx(1 / 100)
    assert permutation_p(0.7, np.array([])) == pytest.approx(1.0)


def test_add_statistics():
    m = add_statistics({"accuracy": 0.8, "n_test": 100, "chance_level": 0.5,
                        "null_accuracies": [0.5, 0.45, 0.81]})
    assert m["n_correct"] == 80
    assert m["ci95_low"] < 0.8 < m["ci95_high"]
    assert m["p_permutation"] == pytest.approx(2 / 4) and m["n_permutations"] == 3
    assert m["p_binomial"] < 1e-8


def test_group_relabelling_p_is_exact():
    from nidecode.evaluation.statistics import group_relabelling_p

    # Two sessions, options {0.9, 0.5, 0.6} and {0.8, 0.4}: 6 equally likely pairs, sums
    # 1.7 1.3 1.4 | 1.3 0.9 1.0 (observed 1.7); only the observed pair reaches it: p = 1/6.
    p, mean = group_relabelling_p([0.9, 0.8], [[0.5, 0.6], [0.4]])
    assert p == pytest.approx(1 / 6) and mean == pytest.approx((2.0 / 3 + 1.2 / 2) / 2)
    # Ties count as reaching the observed mean: options {0.7, 0.7} and {0.5, 0.5} -> p = 1.
    assert group_relabelling_p([0.7, 0.5], [[0.7], [0.5]])[0] == pytest.approx(1.0)
    # Five sessions of ten options: the meet-in-the-middle count equals brute force.
    rng = np.random.default_rng(3)
    obs = list(rng.uniform(0.5, 0.7, 5))
    nulls = [list(rng.uniform(0.4, 0.7, 9)) for _ in range(5)]
    grid = np.zeros(1)
    for o, n in zip(obs, nulls, strict=True):
        grid = (grid[:, None] + np.array([o, *n])[None, :]).ravel()
    brute = np.mean(grid >= sum(obs) - 1e-9)
    assert group_relabelling_p(obs, nulls)[0] == pytest.approx(brute, rel=1e-12)


def test_group_relabelling_p_falls_back_to_monte_carlo_beyond_the_limit(monkeypatch):
    from nidecode.evaluation import statistics

    monkeypatch.setattr(statistics, "EXACT_LIMIT", 5)
    # 6 joint picks > 5: Monte Carlo, whose estimate approaches the exact 1/6.
    p, _ = statistics.group_relabelling_p([0.9, 0.8], [[0.5, 0.6], [0.4]], n_draws=60_000)
    assert p == pytest.approx(1 / 6, abs=0.01)


def test_paired_sign_flip_p_by_hand():
    from nidecode.evaluation.statistics import paired_sign_flip_p

    # Differences 0.3, 0.1, -0.1 (mean 0.1): of the 8 sign flips, the |sums| are 0.3, 0.5, 0.1,
    # 0.3, 0.3, 0.1, 0.5, 0.3; six reach 0.3, so p = 6/8.
    assert paired_sign_flip_p([0.3, 0.1, -0.1]) == pytest.approx(0.75)
    # All n differences of one sign and size: only all-plus and all-minus reach it, 2 / 2^n.
    assert paired_sign_flip_p([0.25] * 3) == pytest.approx(0.25)
    assert paired_sign_flip_p([0.1] * 8) == pytest.approx(2 / 256)
    assert paired_sign_flip_p([0.2, -0.2]) == pytest.approx(1.0)
    # Beyond 2^20 flips: seeded draws, the observed counted once.
    p = paired_sign_flip_p([0.1] * 25, n_draws=2000)
    assert p == pytest.approx(1 / 2001)


def test_holm_by_hand():
    from nidecode.evaluation.statistics import holm

    # Sorted 0.01, 0.03, 0.04 -> x3, x2, x1 = 0.03, 0.06, 0.04 -> monotone 0.03, 0.06, 0.06.
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
