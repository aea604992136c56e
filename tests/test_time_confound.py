"""Time-aware decoding on a synthetic block design with slow drift: the trial split reads time,
the block split and the block-relabelling null do not."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from nidecode.jobs.glm_session import time_confound, top_stimulus_readout
from nidecode.jobs.runner import block_relabelling_null, within
from nidecode.jobs.scope import Scope

# Allen's order of the six blocks: SG, NS, NS, SG, NS, SG (natural scenes in blocks 2, 3, 5).
ALLEN_NATURAL_BLOCKS = [2, 3, 5]


def drifting_session(small_stimuli, seed: int, informative: bool, drift_sd: float = 1.0,
                     n_units: int = 30, per_block: int = 80) -> xr.Dataset:
    """Six blocks of ``per_block`` trials each, in Allen's order (SG, NS, NS, SG, NS, SG).

    Every unit's response is a slow AR(1) drift on the trial clock (time constant 100 trials)
    plus noise; ``informative`` adds a stimulus-class signal.
    """
    rng = np.random.default_rng(seed)
    block = np.repeat(np.arange(1, 7), per_block)
    natural = np.isin(block, ALLEN_NATURAL_BLOCKS)
    classes = small_stimuli.stimulus_class.values.astype(str)
    grat, scen = np.flatnonzero(classes == "artificial"), np.flatnonzero(classes == "natural")
    stim = np.where(natural, rng.choice(scen, len(block)), rng.choice(grat, len(block)))
    n = len(block)
    a = np.exp(-1 / 100)
    drift = np.zeros((n, n_units))
    drift[0] = rng.normal(0, drift_sd, n_units)
    for t in range(1, n):
        drift[t] = a * drift[t - 1] + rng.normal(0, drift_sd * np.sqrt(1 - a**2), n_units)
    r = drift + rng.normal(size=(n, n_units))
    if informative:
        r += np.outer(np.where(natural, 0.6, -0.6), rng.normal(size=n_units))
    return xr.Dataset(
        {"response": (("presentation", "unit"), r.astype(np.float32))},
        coords={"stimulus_index": ("presentation", stim),
                "stimulus_block": ("presentation", block),
                "stimulus_name": ("presentation", np.where(natural, "natural_scenes",
                                                           "static_gratings")),
                "area": ("unit", ["VISp"] * n_units)},
        attrs={"animal": f"syn{seed}", "source": "test"},
    )


def mean_accuracy(ds, stimuli, scope):
    return np.mean([within(ds, stimuli, k, scope)["accuracy"] for k in range(3)])


def test_trial_split_decodes_drift_from_blind_units_and_block_split_does_not(small_stimuli):
    ds = drifting_session(small_stimuli, 1, informative=False)
    trial = mean_accuracy(ds, small_stimuli, Scope(split="trial"))
    assert trial > 0.65  # the confound: time, read from stimulus-blind units
    null = block_relabelling_null(ds, small_stimuli, Scope(split="block"))
    assert null["n_time_null"] == 9 and null["p_time"] > 0.1
    # The trial split is no threat to the time-respecting null either: its relabellings read
    # time just as well.
    assert block_relabelling_null(ds, small_stimuli, Scope(split="trial"))["p_time"] > 0.1
    # Every test fold is whole blocks.
    sel = Scope().select(ds, small_stimuli)
    for k in range(3):
        train = Scope().train_mask(sel, k)
        assert sorted(set(sel.block[~train])) == [2 * k + 1, 2 * k + 2]


def test_block_split_keeps_power_on_informative_units(small_stimuli):
    ds = drifting_session(small_stimuli, 2, informative=True)
    assert mean_accuracy(ds, small_stimuli, Scope(split="block")) > 0.8
    null = block_relabelling_null(ds, small_stimuli, Scope(split="block"))
    assert null["p_time"] == pytest.approx(1 / 10)  # the single-session floor: all 9 below


def test_time_confound_control_reads_the_block_of_one_stimulus(small_stimuli):
    drifting = time_confound(drifting_session(small_stimuli, 3, False), small_stimuli, Scope())
    still = time_confound(drifting_session(small_stimuli, 3, False, drift_sd=0.0),
                          small_stimuli, Scope())
    assert [r["analysis"] for r in drifting] == ["time-natural_scenes", "time-static_gratings"]
    assert [r["block_pairs"] for r in drifting] == [["2-3", "2-5", "3-5"],
                                                    ["1-4", "1-6", "4-6"]]
    assert min(r["accuracy"] for r in drifting) > 0.8  # time separates blocks of one stimulus
    assert max(abs(r["accuracy"] - 0.5) for r in still) < 0.1  # no drift: chance


def test_readout_follows_the_split(small_stimuli):
    ds = drifting_session(small_stimuli, 4, informative=False)
    m = top_stimulus_readout(ds, small_stimuli, 0, Scope(split="block"), "train")
    assert m["split"] == "block" and m["n_test"] == 160


def test_block_split_without_blocks_says_what_to_do(small_stimuli):
    from nidecode.common.errors import NidecodeError

    ds = drifting_session(small_stimuli, 5, False).drop_vars("stimulus_block")
    with pytest.raises(NidecodeError, match="stimulus_block.*decoding.split: trial"):
        within(ds, small_stimuli, 0, Scope(split="block"))
