"""The blank-presentation control on hand-made responses: block kind from grey-screen blanks."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from nidecode.jobs.blank_control import (
    MIN_BLANKS_PER_CLASS,
    blank_control_session,
    blank_folds,
    response_decoders,
)
from nidecode.jobs.scope import Scope

# Six blocks in time order, alternating as in Allen: gratings 0, 2, 4 and scenes 1, 3, 5.
BLOCKS = [0, 1, 2, 3, 4, 5]
KIND = {b: "static_gratings" if b % 2 == 0 else "natural_scenes" for b in BLOCKS}
DECODERS = {"glm": {"C": 1.0}, "svc": {"C": 1.0, "gamma": "scale"}, "knn": {"n_neighbors": 5}}


def blanks_dataset(per_block: int | dict, offset, n_units: int = 12, seed: int = 0
                   ) -> xr.Dataset:
    """Responses with ``per_block`` blanks in each block (or block -> count); each blank's
    response is unit noise plus ``offset(block, rng)`` (a vector over units)."""
    rng = np.random.default_rng(seed)
    counts = per_block if isinstance(per_block, dict) else dict.fromkeys(BLOCKS, per_block)
    block = np.concatenate([np.full(counts[b], b) for b in BLOCKS])
    shifts = {b: offset(b, rng) for b in BLOCKS}
    x = rng.normal(size=(len(block), n_units)) + np.array([shifts[b] for b in block]).reshape(
        len(block), n_units)
    p_block = np.repeat(BLOCKS, 4)  # the main presentations: 4 per block
    return xr.Dataset(
        {"response": (("presentation", "unit"), np.zeros((len(p_block), n_units), np.float32)),
         "blank_response": (("blank", "unit"), x.astype(np.float32))},
        coords={"stimulus_block": ("presentation", p_block),
                "stimulus_name": ("presentation", [KIND[b] for b in p_block]),
                "blank_stimulus_block": ("blank", block),
                "blank_stimulus_name": ("blank", [KIND[b] for b in block]),
                "blank_presentation_id": ("blank", np.arange(len(block)) + 1000),
                "area": ("unit", ["VISp"] * n_units)},
        attrs={"animal": "T", "source": "test", "baseline_method": "pre_onset"})


def by_model(rows: list[dict]) -> dict[str, float]:
    return {r["model"]: r["mean_balanced_accuracy"] for r in rows}


def test_block_offsets_decode_above_chance_under_the_trial_split():
    # Each block carries its own random offset (drift): a random trial split sees every block
    # in training, so it reads which block and hence which kind; whole held-out blocks are new.
    def drift(b, rng):
        return 3.0 * rng.normal(size=12)

    ds = blanks_dataset(12, drift)
    trial = by_model(blank_control_session(ds, Scope(split="trial"), DECODERS))
    assert all(v > 0.9 for v in trial.values()), trial
    assert set(trial) == set(DECODERS)


def test_a_kind_offset_decodes_in_both_splits():
    # The same offset in every block of a kind (a context both splits see): perfect decoding.
    ds = blanks_dataset(8, lambda b, rng: np.full(12, 4.0 if KIND[b] == "natural_scenes" else 0))
    for split in ("block", "trial"):
        rows = blank_control_session(ds, Scope(split=split), DECODERS)
        assert all(r["balanced_accuracy"] == 1.0 for r in rows), split
        assert all(r["chance"] == 0.5 and r["analysis"] == "blank_control" for r in rows)


def test_blanks_without_signal_stay_near_chance():
    ds = blanks_dataset(40, lambda b, rng: np.zeros(12), seed=3)
    for split in ("block", "trial"):
        got = by_model(blank_control_session(ds, Scope(split=split), DECODERS))
        assert all(abs(v - 0.5) < 0.12 for v in got.values()), (split, got)


def test_block_folds_hold_out_the_main_decoders_blocks():
    # Fold k tests the k-th block of each kind, as the main decoder: {0, 1}, {2, 3}, {4, 5}.
    ds = blanks_dataset(3, lambda b, rng: np.zeros(12))
    rows = blank_control_session(ds, Scope(split="block"), {"glm": {}})
    assert [r["test_blocks"] for r in rows] == [[0, 1], [2, 3], [4, 5]]
    assert [(r["n_train"], r["n_test"]) for r in rows] == [(12, 6)] * 3
    assert rows[0]["n_blanks_per_block"] == {f"{KIND[b]} {b}": 3 for b in BLOCKS}
    # A block without valid blanks shifts no fold: block 2 empty, fold 1 still tests {2, 3}.
    ds = blanks_dataset({0: 3, 1: 3, 2: 0, 3: 3, 4: 3, 5: 3}, lambda b, rng: np.zeros(12))
    trains = blank_folds(ds, Scope(split="block"))
    block = ds.blank_stimulus_block.values
    assert sorted(set(block[~trains[1]])) == [3]


def test_too_few_blanks_are_skipped_with_the_reason():
    # One blank per block: each block-split test fold has 1 blank of a kind (< 2).
    ds = blanks_dataset(1, lambda b, rng: np.zeros(12))
    rows = blank_control_session(ds, Scope(split="block"), DECODERS)
    assert len(rows) == 3 * len(DECODERS)
    assert all("skipped" in r and f"fewer than {MIN_BLANKS_PER_CLASS}" in r["skipped"]
               for r in rows)
    assert all(r["mean_balanced_accuracy"] is None for r in rows)
    # Trial split: 3 blanks of a kind cannot fill 3 folds with 2 each either.
    rows = blank_control_session(ds, Scope(split="trial"), DECODERS)
    assert all("skipped" in r for r in rows)
    # No blanks at all (a zero-sized blank dimension).
    ds = blanks_dataset(0, lambda b, rng: np.zeros(12))
    for split in ("block", "trial"):
        rows = blank_control_session(ds, Scope(split=split), {"glm": {}})
        assert len(rows) == 3 and all("skipped" in r for r in rows)


def test_response_decoders_are_the_glm_and_the_baselines_on_responses():
    config = {"decoding": {"glm": {"C": 2.0}, "baselines": {
        "svc": {"C": 1.0}, "knn": {"n_neighbors": 15}, "svc_w": {"C": 1.0}}}}
    assert response_decoders(config) == {"glm": {"C": 2.0}, "svc": {"C": 1.0},
                                         "knn": {"n_neighbors": 15}}


def test_responses_without_blanks_ask_for_a_rerun():
    from nidecode.common.errors import NidecodeError

    ds = blanks_dataset(3, lambda b, rng: np.zeros(12)).drop_vars("blank_response")
    with pytest.raises(NidecodeError, match="rerun the responses rule"):
        blank_control_session(ds, Scope(), {"glm": {}})
