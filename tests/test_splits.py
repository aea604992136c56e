"""Folds, calibration splits and combos."""

from __future__ import annotations

import contextlib
import signal

import numpy as np
import pytest

from nidecode.common.errors import NidecodeError
from nidecode.evaluation.splits import (
    all_subsets,
    block_calibration_mask,
    block_fold_masks,
    block_relabellings,
    calibration_mask,
    combo_name,
    fold_masks,
    labels_constant_within_blocks,
    leave_one_animal_out,
    multiset_permutations,
    parse_combo,
    within_block_permutation,
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
    # One animal has none to train on: no combo (never '__S0').
    for make in (leave_one_animal_out, all_subsets):
        assert make(["S0"]) == [] and make(["S0", "N0"], exclude=["N0"]) == []
        assert make(["S0", "S1"]) == ["S1__S0", "S0__S1"]


# Allen-like block design: gratings blocks 1, 3, 5 and scenes blocks 2, 4, 6, alternating.
BLOCK = np.repeat([1, 2, 3, 4, 5, 6], 10)
NAME = np.where(BLOCK % 2 == 1, "static_gratings", "natural_scenes")
CLASS = (BLOCK % 2 == 0).astype(int)  # natural = 1


def test_block_folds_hold_out_one_whole_block_of_each_class():
    trains = [block_fold_masks(BLOCK, NAME, 3, k) for k in range(3)]
    tests = np.stack([~t for t in trains])
    assert (tests.sum(0) == 1).all()  # the folds partition the trials
    # Fold k tests on the k-th gratings block and the k-th scenes block, whole.
    assert [sorted(set(BLOCK[~t])) for t in trains] == [[1, 2], [3, 4], [5, 6]]
    for t in trains:
        for b in np.unique(BLOCK):
            assert len(set(t[BLOCK == b])) == 1  # no block is cut in two
        assert set(CLASS[t]) == set(CLASS[~t]) == {0, 1}
    # Two folds with three blocks: blocks 1, 5 | 3 of gratings (j % 2).
    assert sorted(set(BLOCK[~block_fold_masks(BLOCK, NAME, 2, 0)])) == [1, 2, 5, 6]


def test_block_folds_refuse_too_few_blocks_with_a_clear_message():
    with pytest.raises(NidecodeError, match=r"session M9.*decoding.n_folds = 4.*"
                                            r"static_gratings.*\[1, 3, 5\].*decoding.split: trial"):
        block_fold_masks(BLOCK, NAME, 4, 0, session="M9")


def test_block_calibration_is_whole_blocks_of_each_class():
    cal = block_calibration_mask(BLOCK, NAME, 0.5, seed=0)
    # round(0.5 * 3) = 2 blocks of each class; every block entirely in or out.
    assert len(set(BLOCK[cal])) == 4
    assert set(CLASS[cal]) == set(CLASS[~cal]) == {0, 1}
    for b in np.unique(BLOCK):
        assert len(set(cal[BLOCK == b])) == 1
    np.testing.assert_array_equal(cal, block_calibration_mask(BLOCK, NAME, 0.5, seed=0))
    assert len(set(BLOCK[block_calibration_mask(BLOCK, NAME, 0.1, seed=0)])) == 2  # >= 1 each


def test_block_relabellings_are_the_9_other_partitions():
    options = block_relabellings(CLASS, BLOCK)
    assert len(options) == 9  # C(6, 3) / 2 - 1: renaming the classes splits blocks alike
    keys = {tuple(o[::10]) for o in options}
    assert len(keys) == 9 and tuple(CLASS[::10]) not in keys
    assert tuple(1 - CLASS[::10]) not in keys  # the complement is the same partition
    for o in options:
        assert o.sum() == CLASS.sum()  # three blocks per class kept
        assert labels_constant_within_blocks(o, BLOCK)
    assert len(block_relabellings(CLASS, BLOCK, max_relabellings=5)) == 5


def test_within_block_permutation_keeps_each_blocks_labels():
    y = np.tile([0, 1], 30)
    p = within_block_permutation(y, BLOCK, np.random.default_rng(0))
    assert not np.array_equal(p, y)
    for b in np.unique(BLOCK):
        assert sorted(p[BLOCK == b]) == sorted(y[BLOCK == b])


def test_generators_leave_out_null_animals():
    animals = ["M0", "M1", "M2", "N0"]
    assert all("N0" not in c for c in leave_one_animal_out(animals, exclude=["N0"]))
    subsets = all_subsets(animals, exclude=["N0"])
    assert len(subsets) == 3 * 3 and all("N0" not in c for c in subsets)


def test_multiset_permutations_are_the_sorted_distinct_orders():
    import itertools

    for items in ([0, 0, 1], [1, 0, 1, 0, 2], [0, 1, 1, 0, 1, 0], [3]):
        assert multiset_permutations(items) == sorted(set(itertools.permutations(items)))
    assert len(multiset_permutations([0] * 6 + [1] * 6)) == 924  # C(12, 6)


@contextlib.contextmanager
def fails_after(seconds: int, what: str):
    """A hang becomes a failure: SIGALRM raises after ``seconds``."""
    def hang(*_):
        raise TimeoutError(f"{what} took over {seconds} s")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_block_relabellings_of_twelve_blocks_enumerate_without_n_factorial():
    # 6 + 6 blocks: 924 assignments, 462 partitions. Enumerating all 12! = 479 million
    # orders (as before) hangs.
    block = np.repeat(np.arange(12), 5)
    y = np.repeat(np.arange(12) % 2, 5)
    with fails_after(20, "block_relabellings of 12 blocks"):
        options = block_relabellings(y, block, max_relabellings=1000)
    assert len(options) == 461
    assert len({tuple(o[::5]) for o in options}) == 461


def test_block_relabellings_stop_when_partitions_run_out():
    # Six classes of one block each: 720 assignments but a single partition (renamings), so
    # the seeded draw finds no other one and must stop rather than loop for ever.
    block = np.repeat(np.arange(6), 4)
    y = np.repeat(np.arange(6), 4)
    with fails_after(20, "block_relabellings of six one-block classes"):
        assert block_relabellings(y, block, max_relabellings=5) == []
