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
