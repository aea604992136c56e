"""Blanks through the main decoder: each fitted main decoder scores the blanks of its test
blocks, on hand-made responses whose blanks are placed by hand."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from nidecode.jobs.runner import within
from nidecode.jobs.scope import Scope

# Allen's block order: gratings (artificial), scenes, scenes, gratings, scenes, gratings.
ORDER = ["static_gratings", "natural_scenes", "natural_scenes", "static_gratings",
         "natural_scenes", "static_gratings"]
PER_BLOCK, BLANKS_PER_BLOCK, N_UNITS = 20, 8, 10


def responses(small_stimuli, blank_signal: float, seed: int = 0) -> xr.Dataset:
    """Trials whose unit 0 is +2 for natural scenes (noise SD 0.3), and blanks whose unit 0 is
    ``blank_signal`` in scenes blocks and 0 in gratings blocks (no noise)."""
    rng = np.random.default_rng(seed)
    cls = small_stimuli.stimulus_class.values.astype(str)
    natural, artificial = np.flatnonzero(cls == "natural"), np.flatnonzero(cls == "artificial")
    block = np.repeat(np.arange(6), PER_BLOCK)
    scenes = np.array([ORDER[b] == "natural_scenes" for b in block])
    idx = np.where(scenes, rng.choice(natural, len(block)), rng.choice(artificial, len(block)))
    x = rng.normal(0, 0.3, size=(len(block), N_UNITS))
    x[:, 0] += 2.0 * scenes
    b_block = np.repeat(np.arange(6), BLANKS_PER_BLOCK)
    b_scenes = np.array([ORDER[b] == "natural_scenes" for b in b_block])
    xb = np.zeros((len(b_block), N_UNITS))
    xb[:, 0] = blank_signal * b_scenes
    return xr.Dataset(
        {"response": (("presentation", "unit"), x.astype(np.float32)),
         "blank_response": (("blank", "unit"), xb.astype(np.float32))},
        coords={"stimulus_index": ("presentation", idx),
                "stimulus_block": ("presentation", block),
                "stimulus_name": ("presentation", [ORDER[b] for b in block]),
                "blank_stimulus_block": ("blank", b_block),
                "blank_stimulus_name": ("blank", [ORDER[b] for b in b_block]),
                "area": ("unit", ["VISp"] * N_UNITS)},
        attrs={"animal": "T", "source": "test", "baseline_method": "pre_onset"})


@pytest.mark.parametrize("decoder", ["glm", "svc", "knn"])
def test_blanks_that_look_like_their_blocks_stimuli_are_called_by_block(small_stimuli, decoder):
    params = {"knn": {"n_neighbors": 5}}.get(decoder, {})
    # Scenes blanks exactly at the scenes trials' mean, gratings blanks at the gratings': every
    # blank is called by its block's class.
    ds = responses(small_stimuli, blank_signal=2.0)
    row = within(ds, small_stimuli, 0, Scope(split="block"), decoder, params)
    assert row["n_blanks_scored"] == 2 * BLANKS_PER_BLOCK  # the fold's two test blocks
    assert row["blank_balanced_accuracy"] == 1.0 and row["blank_accuracy"] == 1.0
    assert row["blank_ci95_low"] < 1.0 == pytest.approx(row["blank_ci95_high"])
    # Scenes blanks that look like gratings: every blank is called a grating, balanced 0.5.
    ds = responses(small_stimuli, blank_signal=0.0)
    row = within(ds, small_stimuli, 0, Scope(split="block"), decoder, params)
    assert row["blank_balanced_accuracy"] == 0.5 and row["blank_accuracy"] == 0.5
    # The test trials' predictions are those of a fit without the blanks.
    plain = within(ds.drop_vars(["blank_response", "blank_stimulus_block",
                                 "blank_stimulus_name"]), small_stimuli, 0,
                   Scope(split="block"), decoder, params)
    assert plain["confusion_matrix"] == row["confusion_matrix"]
    assert "blank_balanced_accuracy" not in plain


def test_trial_split_scores_every_blank_and_analyses_score_none(small_stimuli):
    ds = responses(small_stimuli, blank_signal=2.0)
    row = within(ds, small_stimuli, 1, Scope(split="trial"), "glm", {})
    assert row["n_blanks_scored"] == 6 * BLANKS_PER_BLOCK
    assert row["blank_balanced_accuracy"] == 1.0
    # A label-shuffle control or another analysis scores no blanks.
    ctl = within(ds, small_stimuli, 0, Scope(split="block"), "glm", {}, control="label_shuffle-0")
    assert "blank_balanced_accuracy" not in ctl


@pytest.mark.parametrize("mode", ["train", "paper"])
def test_the_svc_on_w_scores_blanks_through_their_neural_images(small_stimuli, mode):
    # A blank's W is its response times the preferred stimuli of the trials that build them:
    # a scenes blank that looks like a scenes trial has a scenes trial's image.
    ds = responses(small_stimuli, blank_signal=2.0)
    row = within(ds, small_stimuli, 0, Scope(split="block"), "svc_w", {}, mode=mode)
    assert row["n_blanks_scored"] == 2 * BLANKS_PER_BLOCK
    assert row["blank_balanced_accuracy"] == 1.0
    ds = responses(small_stimuli, blank_signal=0.0)
    row = within(ds, small_stimuli, 0, Scope(split="block"), "svc_w", {}, mode=mode)
    assert row["blank_balanced_accuracy"] == 0.5  # every blank's W is 0: one class for all
    plain = within(ds.drop_vars(["blank_response", "blank_stimulus_block",
                                 "blank_stimulus_name"]), small_stimuli, 0,
                   Scope(split="block"), "svc_w", {}, mode=mode)
    assert plain["confusion_matrix"] == row["confusion_matrix"]


def test_blank_weights_by_hand(small_stimuli):
    from nidecode.jobs.inputs import blank_weights

    ds = responses(small_stimuli, blank_signal=2.0)
    sel = Scope(split="block").select(ds, small_stimuli)
    train = sel.block >= 2
    keep = np.zeros(ds.sizes["blank"], dtype=bool)
    keep[[0, 20]] = True  # a gratings blank (block 0) and a scenes blank (block 2)
    r, idx = sel.response.astype(np.float64), sel.stimulus_index
    n = small_stimuli.sizes["stimulus"]
    m_train = np.zeros((N_UNITS, n))
    for t in np.flatnonzero(train):  # M[u, s] = sum of unit u's responses to stimulus s
        m_train[:, idx[t]] += r[t]
    m_all = np.zeros((N_UNITS, n))
    for t in range(len(idx)):
        m_all[:, idx[t]] += r[t]
    blank = ds.blank_response.values[keep].astype(np.float64)
    # No per-trial rates: both modes scale blanks as the session's responses.
    np.testing.assert_allclose(blank_weights(ds, sel, train, "train", n, keep), blank @ m_train,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(blank_weights(ds, sel, train, "paper", n, keep), blank @ m_all,
                               rtol=1e-5, atol=1e-5)


def test_training_scaled_uses_the_basis_trials_baseline_windows():
    from nidecode.data.selection import Selection

    baseline = np.array([[1.0, 10.0], [3.0, 10.0], [100.0, 0.0]])
    sel = Selection(response=np.zeros((3, 2)), stimulus_index=np.zeros(3, int), y=np.zeros(3),
                    names=["a"], trial_mask=np.ones(3, bool), unit_mask=np.ones(2, bool),
                    rate=np.zeros((3, 2)), baseline_rate=baseline,
                    session_sd=np.array([1.0, 4.0]))
    basis = np.array([True, True, False])
    # Unit 0: mean 2, SD sqrt(2) over the basis; unit 1: SD 0 there, so the session's SD 4.
    out = sel.training_scaled(np.array([[4.0, 14.0]]), basis)
    np.testing.assert_allclose(out, [[2 / np.sqrt(2), 1.0]], rtol=1e-6)


def test_the_top_stimulus_readout_scores_no_blanks(small_stimuli):
    # The readout reads each test trial's own stimulus: blanks have none, so it calls none
    # (appending them broke its per-trial record).
    ds = responses(small_stimuli, blank_signal=2.0)
    row = within(ds, small_stimuli, 0, Scope(split="block"), "readout", mode="train")
    assert "blank_balanced_accuracy" not in row
    assert 0.0 <= row["own_stimulus_top_fraction"] <= 1.0
