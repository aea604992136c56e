"""Train/test splits: stratified K-fold within animal, calibration splits, cross-animal combos."""

from __future__ import annotations

import itertools
import re

import numpy as np

COMBO_RE = re.compile(r"^([A-Za-z0-9_]+(?:\+[A-Za-z0-9_]+)*)__([A-Za-z0-9_]+(?:\+[A-Za-z0-9_]+)*)$")


def fold_masks(labels: np.ndarray, n_folds: int, fold: int, seed: int) -> np.ndarray:
    """Boolean training mask of ``fold`` in a seeded stratified ``n_folds``-fold split.

    With K = 3 each fold trains on 2/3 of the trials and tests on the other 1/3; the K test
    sets partition the trials.
    """
    from sklearn.model_selection import StratifiedKFold

    if not 0 <= fold < n_folds:
        raise ValueError(f"fold {fold} outside 0..{n_folds - 1}")
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, test) in enumerate(skf.split(np.zeros(len(labels)), labels)):
        if k == fold:
            train = np.ones(len(labels), dtype=bool)
            train[test] = False
            return train
    raise AssertionError("unreachable")


def calibration_mask(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Stratified, seeded subset of a test animal's trials used only to build its ``PS``."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    cal, _ = train_test_split(idx, train_size=fraction, stratify=labels, random_state=seed)
    mask = np.zeros(len(labels), dtype=bool)
    mask[cal] = True
    return mask


def combo_name(train: list[str], test: list[str]) -> str:
    """Readable, stable combo name: ``M0+M1__M3``."""
    return f"{'+'.join(train)}__{'+'.join(test)}"


def parse_combo(name: str) -> tuple[list[str], list[str]]:
    """Inverse of :func:`combo_name`."""
    m = COMBO_RE.match(name)
    if not m:
        raise ValueError(f"combo {name!r} is not of the form TRAIN+TRAIN__TEST")
    return m[1].split("+"), m[2].split("+")


def leave_one_animal_out(animals: list[str]) -> list[str]:
    """Each animal tested in turn, trained on all the others."""
    return [combo_name([a for a in animals if a != t], [t]) for t in animals]


def all_subsets(animals: list[str]) -> list[str]:
    """Each animal tested in turn, trained on every non-empty subset of the others.

    For n animals this is n * (2^(n-1) - 1) combos: 2,295 for nine.
    """
    out = []
    for t in animals:
        others = [a for a in animals if a != t]
        for k in range(1, len(others) + 1):
            out += [combo_name(list(c), [t]) for c in itertools.combinations(others, k)]
    return out
