"""The statistics the simulator is held to against real Allen sessions, by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nidecode.studies.fidelity import (
    block_unit_statistics,
    excess_slow_variance,
    global_osi,
    image_selectivity,
    lifetime_sparseness,
    preferred_fano,
    residual_autocorrelation,
    session_half,
    shared_fraction,
)


def test_lifetime_sparseness_by_hand():
    # Equal responses: 0; one condition only: 1; [1, 0, 0, 1]: (1 - 0.25 / 0.5) / (1 - 1/4)
    r = np.array([[2.0, 2, 2, 2], [0, 0, 3, 0], [1, 0, 0, 1]])
    np.testing.assert_allclose(lifetime_sparseness(r), [0.0, 1.0, (1 - 0.5) / 0.75])


def test_image_selectivity_by_hand():
    # One scene at 1, three at 0: every threshold in [0, 1) keeps exactly that scene, so the
    # mean fraction above threshold is 1/4 and the selectivity 1 - 2/4 = 0.5; responses
    # 0, 1, 2, 3 spread evenly: the fraction falls from 3/4 to 1/4 over the steps, mean 1/2.
    r = np.array([[1.0, 0, 0, 0], [0.0, 1, 2, 3]])
    np.testing.assert_allclose(image_selectivity(r, n_steps=3), [0.5, 0.0], atol=1e-12)


def test_global_osi_of_untuned_and_cosine_tuning():
    ori = np.arange(0, 180, 30.0)
    flat = np.ones(6)
    # R = 1 + cos(2 theta): |sum R e^{2i theta}| = 6 / 2 = 3, sum R = 6.
    cosine = 1 + np.cos(2 * np.deg2rad(ori))
    np.testing.assert_allclose(global_osi(np.stack([flat, cosine]), ori), [0.0, 0.5], atol=1e-12)


def test_fano_at_the_preferred_condition():
    counts = np.array([[1, 5], [3, 5], [10, 0], [14, 0]], dtype=float)
    condition = np.array([0, 0, 1, 1])
    # Unit 0 prefers condition 1: counts 10, 14 -> variance 4 (ddof 0), mean 12; unit 1
    # condition 0:
    # counts 5, 5 -> 0.
    np.testing.assert_allclose(preferred_fano(counts, condition), [4 / 12, 0.0])


def test_slow_variance_shared_fraction_and_autocorrelation():
    rng = np.random.default_rng(0)
    t = np.arange(3600) * 0.25  # 15 minutes
    slow = np.sin(2 * np.pi * t / 600)  # a 10-minute cycle shared by the units
    rate = 2.0 * (1 + 0.5 * slow)[:, None] * np.ones((1, 4))
    counts = rng.poisson(rate)
    res = counts - counts.mean(0)
    ev = excess_slow_variance(counts, res, t, 30.0)
    # var(1 + 0.5 sin) = 0.125 of the squared mean, Poisson removed.
    np.testing.assert_allclose(ev, 0.125, atol=0.04)
    flat = rng.poisson(np.full((3600, 4), 2.0))
    assert np.all(np.abs(excess_slow_variance(flat, flat - flat.mean(0), t, 30.0)) < 0.01)
    assert shared_fraction(res, t) > 0.9 > shared_fraction(flat - flat.mean(0), t)
    ac = residual_autocorrelation(res, t, lags_s=(30.0, 300.0))
    assert ac[30.0] > 0.7 and ac[300.0] < -0.5  # half a cycle later: anticorrelated


def test_block_unit_statistics_rates_and_tuning():
    # Two units, 3 scenes x 2 repeats + 1 blank, 2 orientations x 1 sf x 1 phase x 2 repeats.
    frame = np.array([0, 0, 1, 1, 2, 2, -1])
    scenes = np.array([[4, 0], [4, 0], [0, 1], [0, 1], [0, 1], [0, 1], [0, 1]], dtype=float)
    gratings = pd.DataFrame({"orientation": [0.0, 0, 90, 90], "spatial_frequency": 0.04,
                             "phase": 0.0})
    g_counts = np.array([[2, 1], [2, 1], [0, 1], [0, 1]], dtype=float)
    out = block_unit_statistics(scenes, frame, g_counts, gratings)
    np.testing.assert_allclose(out.firing_rate_ns, [8 / 7 / 0.25, 5 / 7 / 0.25])
    np.testing.assert_allclose(out.firing_rate_sg, [1 / 0.25, 1 / 0.25])
    # Unit 1: scenes 0, 1, 1: (1 - (2/3)^2 / (2/3)) / (1 - 1/3) = 0.5.
    np.testing.assert_allclose(out.lifetime_sparseness_ns, [1.0, 0.5], atol=1e-12)
    # Orientation 0 only vs both equally: gOSI |2 e^0 + 0| / 2 = 1 and |1 - 1| / 2 = 0.
    np.testing.assert_allclose(out.g_osi_sg, [1.0, 0.0], atol=1e-12)
    assert out.fano_ns.tolist() == pytest.approx([0.0, 0.0])


def test_session_halves_split_the_sorted_ids_by_position():
    names = ["900", "12", "7", "31", "100"]  # numeric order 7, 12, 31, 100, 900
    assert session_half(names, "fit") == ["7", "31", "900"]
    assert session_half(names, "validate") == ["12", "100"]
    assert session_half(["b", "a", "c"], "fit") == ["a", "c"]  # names, not ids: text order
    with pytest.raises(ValueError):
        session_half(names, "test")
