"""Train/test splits: block-held-out and stratified K-fold within animal, calibration splits,
time-respecting nulls, cross-animal combos."""

from __future__ import annotations

import itertools
import math
import re
from typing import Literal

import numpy as np

from nidecode.common.constants import ANIMALS_PATTERN, SPLITS
from nidecode.common.errors import NidecodeError

COMBO_RE = re.compile(rf"^({ANIMALS_PATTERN})__({ANIMALS_PATTERN})$")


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


# Every cross-animal combo trains on one animal and tests on another.
MIN_COMBO_ANIMALS = 2


def leave_one_animal_out(animals: list[str], exclude: list[str] | tuple = ()) -> list[str]:
    """Each animal tested in turn, trained on all the others (``exclude``: null animals).

    None with fewer than ``MIN_COMBO_ANIMALS`` animals: a lone animal has none to train on.
    """
    animals = [a for a in animals if a not in exclude]
    if len(animals) < MIN_COMBO_ANIMALS:
        return []
    return [combo_name([a for a in animals if a != t], [t]) for t in animals]


def all_subsets(animals: list[str], exclude: list[str] | tuple = ()) -> list[str]:
    """Each animal tested in turn, trained on every non-empty subset of the others.

    For n animals this is n * (2^(n-1) - 1) combos: 2,295 for nine. Animals in ``exclude``
    (the null animals, which carry no stimulus information) take no part.
    """
    animals = [a for a in animals if a not in exclude]
    out = []
    for t in animals:
        others = [a for a in animals if a != t]
        for k in range(1, len(others) + 1):
            out += [combo_name(list(c), [t]) for c in itertools.combinations(others, k)]
    return out


# ------------------------------------------------------------------------ time-aware splits
# Allen shows each stimulus in a few blocks minutes long, and units drift over minutes: a random
# trial split puts a test trial's neighbours in time (same block, same class) in the training
# set, so a decoder can read *when* a trial was shown instead of *what*. Block splits hold out
# whole blocks (docs/method.md, "Splits and nulls").

Split = Literal["block", "trial"]


def _blocks_by_group(block: np.ndarray, group: np.ndarray) -> dict[str, list]:
    """Each group's (stimulus's) block ids in time order (Allen numbers blocks in time order)."""
    out: dict[str, list] = {}
    for g in sorted(set(group.tolist())):
        out[g] = sorted(set(block[group == g].tolist()))
    return out


def block_fold_masks(block: np.ndarray, group: np.ndarray, n_folds: int, fold: int,
                     session: str = "") -> np.ndarray:
    """Training mask of ``fold`` when whole stimulus blocks are held out.

    ``block``: each trial's ``stimulus_block``; ``group``: what the block shows (its
    ``stimulus_name``, or a pseudo-class in a block relabelling). The j-th block (in time
    order) of every group is tested in fold ``j % n_folds``, so with Allen's three blocks per
    stimulus and K = 3 each fold tests on one block of each class (the paper's 2/3 : 1/3).
    """
    if not 0 <= fold < n_folds:
        raise ValueError(f"fold {fold} outside 0..{n_folds - 1}")
    blocks = _blocks_by_group(np.asarray(block), np.asarray(group))
    short = {g: b for g, b in blocks.items() if len(b) < n_folds}
    if short:
        raise NidecodeError(
            f"session {session or '?'}: decoding.split 'block' needs at least "
            f"decoding.n_folds = {n_folds} blocks of each stimulus, but it has "
            f"{ {g: [block_id(v) for v in b] for g, b in blocks.items()} } (stimulus -> "
            "stimulus_block ids). Lower decoding.n_folds to "
            f"{min(len(b) for b in blocks.values())} or set decoding.split: trial.")
    test_blocks = [b[j] for b in blocks.values() for j in range(len(b)) if j % n_folds == fold]
    return ~np.isin(block, test_blocks)


def block_id(v):
    """A stimulus_block id as Allen prints it (whole numbers without a decimal point)."""
    return int(v) if float(v).is_integer() else v


def check_classes(y: np.ndarray, train: np.ndarray, n_classes: int, what: str) -> None:
    """Every class must appear in the training and in the test trials of a fold."""
    for part, mask in (("training", train), ("test", ~train)):
        present = np.unique(y[mask])
        if len(present) < n_classes:
            missing = sorted(set(range(n_classes)) - set(present.tolist()))
            raise NidecodeError(
                f"{what}: class(es) {missing} have no {part} trials in this fold; use "
                "decoding.split: trial or fewer decoding.n_folds")


def train_mask(split: Split, y: np.ndarray, block: np.ndarray, group: np.ndarray,
               n_folds: int, fold: int, seed: int, session: str = "") -> np.ndarray:
    """Training mask of ``fold`` under ``split`` (``block``: whole blocks; ``trial``: random)."""
    if split == "block":
        return block_fold_masks(block, group, n_folds, fold, session)
    if split == "trial":
        return fold_masks(y, n_folds, fold, seed)
    raise ValueError(f"unknown split {split!r}; allowed: {SPLITS}")


def block_calibration_mask(block: np.ndarray, group: np.ndarray, fraction: float, seed: int,
                           session: str = "") -> np.ndarray:
    """A test animal's calibration trials made of whole blocks (seeded choice per stimulus).

    Each stimulus gives ``round(fraction * n_blocks)`` of its blocks (at least one, and at
    least one left to evaluate).
    """
    blocks = _blocks_by_group(np.asarray(block), np.asarray(group))
    if any(len(b) < 2 for b in blocks.values()):
        raise NidecodeError(
            f"session {session or '?'}: a block calibration split needs at least 2 blocks of "
            f"each stimulus, found { {g: [block_id(v) for v in b] for g, b in blocks.items()} }; "
            "set decoding.split: trial.")
    rng = np.random.default_rng([seed, 4099])
    chosen = []
    for b in blocks.values():
        k = min(len(b) - 1, max(1, int(np.floor(fraction * len(b) + 0.5))))
        chosen += list(rng.choice(b, k, replace=False))
    return np.isin(block, chosen)


def calibration(split: Split, y: np.ndarray, block: np.ndarray, group: np.ndarray,
                fraction: float, seed: int, session: str = "") -> np.ndarray:
    """Calibration mask of a cross-animal test animal under ``split``."""
    if split == "block":
        return block_calibration_mask(block, group, fraction, seed, session)
    return calibration_mask(y, fraction, seed)


# --------------------------------------------------------------------- time-respecting nulls


def labels_constant_within_blocks(y: np.ndarray, block: np.ndarray) -> bool:
    """True when every block shows one class (natural vs artificial in Allen's protocol)."""
    return all(len(np.unique(y[block == b])) == 1 for b in np.unique(block))


def block_relabellings(y: np.ndarray, block: np.ndarray, max_relabellings: int = 1000,
                       seed: int = 0) -> list[np.ndarray]:
    """Trial labels of every other assignment of the classes to whole blocks.

    Block-level randomisation: each block keeps its trials (and their drift), the number of
    blocks per class is kept, and only which blocks carry which class changes. Assignments
    that differ only by renaming the classes split the blocks the same way and decode equally
    well, so each partition counts once: with three blocks per class that is C(6, 3) / 2 = 10
    partitions, the observed one and 9 others, so one session's p-value can be no smaller than
    1/10. Beyond ``max_relabellings`` a seeded sample is drawn. Labels must be constant
    within blocks.
    """
    ids = np.unique(block)
    block_label = np.array([y[block == b][0] for b in ids])
    observed = _canonical(block_label)
    counts = np.bincount(block_label)
    total = math.factorial(len(ids))
    for c in counts:
        total //= math.factorial(int(c))
    seen = {observed}
    assignments: list[tuple] = []
    if total <= 20 * max_relabellings:
        # The distinct assignments only (multinomial many, not n!: 924 for 6 + 6 blocks).
        for a in multiset_permutations(block_label.tolist()):
            if (key := _canonical(np.asarray(a))) not in seen:
                seen.add(key)
                assignments.append(a)
        if len(assignments) > max_relabellings:
            pick = np.random.default_rng([seed, 31337]).choice(
                len(assignments), max_relabellings, replace=False)
            assignments = [assignments[i] for i in sorted(pick)]
    else:
        rng = np.random.default_rng([seed, 31337])
        # Many classes of one block each have few partitions for many assignments: stop
        # drawing once new ones stop coming.
        tries = 0
        while len(assignments) < max_relabellings and tries < 50 * max_relabellings:
            tries += 1
            a = tuple(rng.permutation(block_label).tolist())
            if (key := _canonical(np.asarray(a))) not in seen:
                seen.add(key)
                assignments.append(a)
    pos = np.searchsorted(ids, block)
    return [np.asarray(a)[pos] for a in assignments]


def multiset_permutations(items: list) -> list[tuple]:
    """The distinct orderings of ``items`` in lexicographic order (the classic next-permutation
    step from the sorted order): ``sorted(set(itertools.permutations(items)))`` without its n!
    tuples."""
    a = sorted(items)
    out = [tuple(a)]
    while True:
        i = len(a) - 2
        while i >= 0 and a[i] >= a[i + 1]:
            i -= 1
        if i < 0:
            return out
        j = len(a) - 1
        while a[j] <= a[i]:
            j -= 1
        a[i], a[j] = a[j], a[i]
        a[i + 1:] = reversed(a[i + 1:])
        out.append(tuple(a))


def _canonical(block_label: np.ndarray) -> tuple:
    """The partition of blocks an assignment makes: classes renamed by first appearance."""
    first = {}
    for v in block_label.tolist():
        first.setdefault(v, len(first))
    return tuple(first[v] for v in block_label.tolist())


def within_block_permutation(y: np.ndarray, block: np.ndarray,
                             rng: np.random.Generator) -> np.ndarray:
    """Labels permuted among the trials of each block (Allen randomises order within blocks)."""
    out = y.copy()
    for b in np.unique(block):
        idx = np.flatnonzero(block == b)
        out[idx] = y[rng.permutation(idx)]
    return out
