"""Preferred stimuli and neural images through the stimulus-weight algebra (docs/method.md §2).

The paper defines, for responses ``R`` (trials x units) and shown stimuli ``S`` (trials x
pixels),

    PS_i = sum_t R_it S_t        (preferred stimulus of unit i)
    I_t  = sum_i R_it PS_i       (neural image of trial t)

With ``A`` the trials x stimuli one-hot of which stimulus was shown and ``U`` the unique stimulus
images (stimuli x pixels), ``S = A U``, hence ``PS = (R^T A) U`` and ``I = R (R^T A) U = W U``.
Every neural image is a weighted sum of the ~240 unique stimuli: we store ``W`` (trials x
stimuli) and synthesise images as ``W[batch] @ U`` where they are consumed.

Modes:

* ``paper`` (transductive, as published): ``PS`` from every trial, test trials included. A
  trial's own stimulus then enters its own image with weight ``||R_t||^2``: the image leaks the
  stimulus even when the neurons carry no information about it.
* ``train`` (default, leak-free): ``PS`` from training trials only. Training trial ``t``'s image
  uses ``PS`` without ``t``'s group: its whole stimulus block under the block split (the block
  shares ``t``'s drift and, since a block shows one class, its label), ``t`` alone under the
  trial split (leave-one-out: subtract ``||R_t||^2 A_t``). Each stimulus's sum is then scaled
  back to the number of training trials that show it, so training images are built like test
  images: from trials of other blocks, on the same scale, with no self-term.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from nidecode.common.constants import PS_MODES

PSMode = Literal["train", "paper"]


def stimulus_onehot(stimulus_index: np.ndarray, n_stimuli: int) -> np.ndarray:
    """``A``: (trials, stimuli) float32 one-hot of the stimulus shown at each trial."""
    a = np.zeros((len(stimulus_index), n_stimuli), dtype=np.float32)
    a[np.arange(len(stimulus_index)), stimulus_index] = 1.0
    return a


def preferred_stimulus_weights(response: np.ndarray, stimulus_index: np.ndarray,
                               n_stimuli: int) -> np.ndarray:
    """``M = R^T A``: (units, stimuli); unit i's preferred stimulus is ``M[i] @ U``."""
    return (stimulus_onehot(stimulus_index, n_stimuli).T @ response.astype(np.float32)).T


def preferred_stimuli(response: np.ndarray, stimulus_index: np.ndarray,
                      images: np.ndarray) -> np.ndarray:
    """``PS`` (units, y, x): each unit's stimuli weighted by its responses (the paper's eq. 1)."""
    m = preferred_stimulus_weights(response, stimulus_index, len(images))
    return (m @ images.reshape(len(images), -1)).reshape((-1, *images.shape[1:]))


def neural_image_weights(
    response: np.ndarray,
    stimulus_index: np.ndarray,
    n_stimuli: int,
    basis: np.ndarray,
    leave_out: np.ndarray | None = None,
) -> np.ndarray:
    """``W`` (trials, stimuli) such that the trials' neural images are ``W @ U``.

    ``basis`` is a boolean mask (or index) of the trials whose responses build the preferred
    stimuli. With ``leave_out`` (one group label per trial) each trial in ``basis`` gets its
    image from the preferred stimuli of the basis trials outside its group, each stimulus's sum
    scaled by ``n_s(basis) / n_s(basis outside the group)`` so that it has the size of the
    other trials' (0 where no trial of the stimulus is left). Unique labels give leave-one-out.
    """
    n = len(response)
    basis = _as_mask(basis, n)
    r = response.astype(np.float32)
    m = preferred_stimulus_weights(r[basis], stimulus_index[basis], n_stimuli)
    w = r @ m
    if leave_out is None:
        return w
    groups = np.asarray(leave_out)
    counts = np.bincount(stimulus_index[basis], minlength=n_stimuli).astype(np.float32)
    idx = np.flatnonzero(basis)
    if len(np.unique(groups[idx])) == len(idx):
        # One trial per group: only its own stimulus's column changes (fast path).
        s = stimulus_index[idx]
        self_weight = np.einsum("tu,tu->t", r[idx], r[idx])
        left = counts[s] - 1
        own = w[idx, s] - self_weight
        w[idx, s] = np.where(left > 0, own * counts[s] / np.maximum(left, 1), 0.0)
        return w
    for g in np.unique(groups[idx]):
        members = basis & (groups == g)
        others = basis & (groups != g)  # summed afresh: the group's values never enter
        m_g = preferred_stimulus_weights(r[others], stimulus_index[others], n_stimuli)
        left = np.bincount(stimulus_index[others], minlength=n_stimuli)
        scale = np.divide(counts, left, out=np.zeros(n_stimuli, np.float32), where=left > 0)
        w[members] = (r[members] @ m_g) * scale
    return w


def _as_mask(basis: np.ndarray, n: int) -> np.ndarray:
    basis = np.asarray(basis)
    if basis.dtype == bool:
        return basis
    mask = np.zeros(n, dtype=bool)
    mask[basis] = True
    return mask


def within_animal_weights(
    response: np.ndarray,
    stimulus_index: np.ndarray,
    n_stimuli: int,
    train: np.ndarray,
    mode: PSMode,
    leave_out: np.ndarray | None = None,
) -> np.ndarray:
    """``W`` for every trial of one animal given a train/test split (boolean ``train`` mask).

    ``train``: preferred stimuli from training trials only; each training trial's from the
    training trials outside its ``leave_out`` group (its stimulus block under the block split;
    default: the trial alone). ``paper``: preferred stimuli from all trials, self-terms included
    (as published).
    """
    if mode == "paper":
        return neural_image_weights(response, stimulus_index, n_stimuli,
                                    np.ones(len(response), dtype=bool))
    if mode == "train":
        groups = np.arange(len(response)) if leave_out is None else leave_out
        return neural_image_weights(response, stimulus_index, n_stimuli, train, groups)
    raise ValueError(f"unknown preferred-stimulus mode {mode!r}; allowed: {PS_MODES}")


def cross_animal_weights(
    response: np.ndarray,
    stimulus_index: np.ndarray,
    n_stimuli: int,
    role: Literal["train", "test"],
    mode: PSMode,
    calibration: np.ndarray | None = None,
    leave_out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``W`` of one animal in a cross-animal combo, and the mask of trials it is used for.

    Training animals use every trial (in ``train`` mode each trial's image leaves out its
    ``leave_out`` group, by default the trial alone; self-terms in ``paper`` mode). A test
    animal in ``train`` mode builds its preferred stimuli from the ``calibration`` trials and
    is evaluated on the others only; in ``paper`` mode it uses and is evaluated on
    every trial (transductive, as published).
    """
    n = len(response)
    everything = np.ones(n, dtype=bool)
    if mode not in PS_MODES:
        raise ValueError(f"unknown preferred-stimulus mode {mode!r}; allowed: {PS_MODES}")
    if role == "train":
        groups = (None if mode == "paper" else
                  np.arange(n) if leave_out is None else leave_out)
        w = neural_image_weights(response, stimulus_index, n_stimuli, everything, groups)
        return w, everything
    if mode == "paper":
        return neural_image_weights(response, stimulus_index, n_stimuli, everything), everything
    if calibration is None:
        raise ValueError("train mode needs a calibration split of the test animal")
    w = neural_image_weights(response, stimulus_index, n_stimuli, calibration)
    return w, ~_as_mask(calibration, n)


def literal_neural_images(response: np.ndarray, shown: np.ndarray,
                          basis: np.ndarray | None = None) -> np.ndarray:
    """The paper's two sums computed literally, for tests and benchmarks.

    ``shown``: (trials, y, x) the stimulus image of each trial; ``basis``: trials used for
    ``PS`` (default all). Returns (trials, y, x). Memory grows as units x pixels.
    """
    basis = np.ones(len(response), bool) if basis is None else _as_mask(basis, len(response))
    n_units = response.shape[1]
    ps = np.zeros((n_units, *shown.shape[1:]), dtype=np.float64)
    for i in range(n_units):  # PS_i = sum_t R_it S_t
        for t in np.flatnonzero(basis):
            ps[i] += response[t, i] * shown[t]
    images = np.zeros(shown.shape, dtype=np.float64)
    for t in range(len(response)):  # I_t = sum_i R_it PS_i
        for i in range(n_units):
            images[t] += response[t, i] * ps[i]
    return images
