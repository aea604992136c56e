"""nidecode.studies.fidelity_real (benchmarks/fidelity_real.py): the statistics against values
worked out by hand on tiny arrays, and the real-format reader on a fixture built here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nidecode.data.gabors import GaborEpoch
from nidecode.studies.fidelity_real import (
    autocorrelation,
    compare,
    drift_statistics,
    excess_variance,
    fano_factor,
    g_osi,
    image_selectivity,
    lifetime_sparseness,
    overall_firing_rate,
    real_units,
    shared_fraction,
    stimulus_blocks,
    unit_metrics,
)


def test_lifetime_sparseness_by_hand():
    assert lifetime_sparseness(np.array([1.0, 1.0, 1.0, 1.0])) == pytest.approx(0.0)
    assert lifetime_sparseness(np.array([0.0, 0.0, 0.0, 2.0])) == pytest.approx(1.0)
    # r = (1, 0, 0, 0, 1): (1 - 4 / (5 * 2)) / (1 - 1/5) = 0.6 / 0.8
    assert lifetime_sparseness(np.array([1.0, 0, 0, 0, 1])) == pytest.approx(0.75)


def test_image_selectivity_by_hand():
    # (0, 0, 0, 1), thresholds 0, 0.25, 0.5, 0.75: a quarter of the images above each.
    assert image_selectivity(np.array([0.0, 0, 0, 1]), num_steps=4) == pytest.approx(0.5)
    # (0, 1, 2, 3), thresholds 0, 0.75, 1.5, 2.25: fractions above 3/4, 3/4, 2/4, 1/4.
    assert image_selectivity(np.array([0.0, 1, 2, 3]), num_steps=4) == pytest.approx(
        1 - 2 * np.mean([0.75, 0.75, 0.5, 0.25]))


def test_gosi_of_a_cosine_tuning_curve():
    theta = np.arange(0, 180, 30.0)
    # R = 1 + a cos(2 (theta - 60)): |sum R e^{2i theta}| = 6 a / 2, sum R = 6.
    assert g_osi(theta, 1 + 0.5 * np.cos(np.deg2rad(2 * (theta - 60)))) == pytest.approx(0.25)
    assert g_osi(theta, np.ones(6)) == pytest.approx(0.0, abs=1e-12)
    assert np.isnan(g_osi(theta, np.zeros(6)))


def test_fano_is_allensdk_population_variance_over_mean():
    assert fano_factor(np.array([1, 3])) == pytest.approx(1.0 / 2.0)
    assert np.isnan(fano_factor(np.zeros(3)))


def test_blocks_and_overall_rate():
    start = np.array([0.0, 0.25, 0.5, 10.0, 10.25])
    b0, b1 = stimulus_blocks(start, start + 0.25)
    np.testing.assert_allclose(b0, [0.0, 10.0])
    np.testing.assert_allclose(b1, [0.75, 10.5])
    spikes = np.array([0.1, 0.7, 5.0, 10.1, 10.4])  # 4 inside 1.25 s of blocks
    assert overall_firing_rate(b0, b1, spikes) == pytest.approx(4 / 1.25)


def test_excess_variance_of_a_step():
    # One condition, 4 presentations per 30-s bin, counts 1 in the first bin and 3 in the
    # second, one presentation (count 2) in a partial third bin, which is dropped. Residuals
    # -1, +1, 0: bin means -1, +1, var (ddof 1) 2; mu = 18 / 9 = 2; Poisson term mu / n = 0.5;
    # (2 - 0.5) / 2^2 = 0.375.
    t = np.r_[np.arange(4) * 7.0, 30 + np.arange(4) * 7.0, 60.0]
    counts = np.r_[[1] * 4, [3] * 4, [2]][:, None]
    assert excess_variance(counts, np.zeros(9, int), t, 30.0)[0] == pytest.approx(0.375)


def test_autocorrelation_of_a_known_sequence():
    r = autocorrelation(np.array([1.0, -1.0, 1.0, -1.0]), [1, 2, 5])
    np.testing.assert_allclose(r[:2], [-0.75, 0.5])
    assert np.isnan(r[2])


def test_shared_fraction():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    assert shared_fraction(np.c_[a, 2 * a + 1]) == pytest.approx(1.0)
    assert shared_fraction(np.c_[[1.0, -1, 1, -1], [1.0, 1, -1, -1]]) == pytest.approx(0.5)


def test_unit_metrics_of_two_gratings_conditions():
    table = pd.DataFrame({"start_time": np.arange(6) * 0.25,
                          "stop_time": np.arange(1, 7) * 0.25,
                          "orientation": [0, 90, 0, 90, np.nan, np.nan],
                          "spatial_frequency": [0.04] * 4 + [np.nan] * 2,
                          "phase": [0.0] * 4 + [np.nan] * 2})
    counts = np.array([[2], [0], [4], [0], [1], [1]])
    spikes = [np.array([0.1, 0.2, 0.6, 0.65, 0.7, 0.8, 1.1, 1.3])]
    m = unit_metrics(counts, table, spikes, "sg").iloc[0]
    assert m.firing_rate_sg == pytest.approx(8 / 1.5)
    assert m.lifetime_sparseness_sg == pytest.approx(1.0)  # responses (3, 0)
    assert m.fano_sg == pytest.approx(1.0 / 3.0)  # counts 2, 4 at the preferred condition
    assert m.g_osi_sg == pytest.approx(1.0)


def test_real_folder_reader_and_drift_statistics(tmp_path):
    units = pd.DataFrame({"ecephys_session_id": 1, "ecephys_unit_id": [10, 11, 12],
                          "ecephys_structure_acronym": ["VISp", "VISp", "VISl"],
                          "quality": "good", "amplitude_cutoff": [0.01, 0.5, 0.01],
                          "presence_ratio": 0.99, "isi_violations": 0.1,
                          "firing_rate_ns": [3.0, 1.0, 2.0], "firing_rate_sg": [1.4, 1.0, 2.0]})
    units.to_csv(tmp_path / "units.csv.gz", index=False)
    u = real_units(tmp_path, ("VISp",), {"amplitude_cutoff_max": 0.1})
    assert u.ecephys_unit_id.tolist() == [10]
    assert u.log_ratio.iloc[0] == pytest.approx(np.log(3.1 / 1.5))
    rng = np.random.default_rng(0)
    t = np.arange(480) * 2.0  # 960 s
    gain = np.where(t < 480, 0.5, 1.5)  # a step: variance of the gain 0.25
    counts = rng.poisson(4 * gain[:, None] * np.ones((1, 3)))
    ep = GaborEpoch("s", "allen", counts, t, np.arange(480) % 4, np.arange(3),
                    np.array(["VISp"] * 3))
    st = drift_statistics(ep)
    assert st["n_units"] == 3
    assert np.all(np.abs(st["excess_var_30s"] - 0.25) < 0.06)
    assert np.all(st["acf_30s"] > 0.7)
    c = compare(st["excess_var_30s"], st["excess_var_30s"])
    assert c["ks"] == 0 and c["inside"]
