"""Folds, calibration splits and combos."""

from __future__ import annotations

import numpy as np
import pytest

from nidecode.splits import (
    all_subsets,
    calibration_mask,
    combo_name,
    fold_masks,
    leave_one_animal_out,
    parse_combo,
)

LABELS = np.array([0] * 60 + [1] * 30)


def test_three_folds_train_on_two_thirds_and_partition_the_trials():
    trains = [fold_masks(LABELS, 3, k, seed=0) for k in range(3)]
    tests = np.stack([~t for t in trains])
    assert (tests.sum(0) == 1).all()  # every trial is tested exactly once
    for t in trains:
        assert t.sum() == 60
        assert LABELS[t].sum() == 20  # stratified: 2/3 of each class
    np.testing.assert_array_equal(fold_masks(LABELS, 3, 1, seed=0), trains[1])
    assert not np.array_equal(fold_masks(LABELS, 3, 1, seed=1), trains[1])
    with pytest.raises(ValueError):
        fold_masks(LABELS, 3, 3, seed=0)


def test_calibration_split_is_stratified_and_seeded():
    cal = calibration_mask(LABELS, 0.5, seed=0)
    assert cal.sum() == 45 and LABELS[cal].sum() == 15
    np.testing.assert_array_equal(cal, calibration_mask(LABELS, 0.5, seed=0))


def test_combo_names_round_trip():
    assert combo_name(["M0", "M1"], ["M3"]) == "M0+M1__M3"
    assert parse_combo("M0+M1__M3") == (["M0", "M1"], ["M3"])
    with pytest.raises(ValueError):
        parse_combo("M0-M3")


def test_generators():
    animals = ["S0", "S1", "S2", "S3", "S4", "M0", "M1", "M2", "M3"]
    loao = leave_one_animal_out(animals)
    assert len(loao) == 9 and loao[0] == "S1+S2+S3+S4+M0+M1+M2+M3__S0"
    subsets = all_subsets(animals)
    assert len(subsets) == 9 * (2**8 - 1) == 2295
    assert len(set(subsets)) == 2295
    assert "M0+M1__M3" in subsets and "M2__M3" in subsets
