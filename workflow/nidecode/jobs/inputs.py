"""What a decoder reads, built from the responses for one training mask: the responses, ``W``
(a trial's neural image is ``W @ U``) or z-scored raster counts; within one animal and across
animals. Test trials inform no scaling and no preferred stimulus in ``train`` mode."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from nidecode.common.errors import NidecodeError
from nidecode.data.selection import Selection
from nidecode.decoders.registry import Inputs
from nidecode.evaluation.splits import block_relabellings, calibration
from nidecode.images.neural_images import (
    PSMode,
    cross_animal_weights,
    preferred_stimulus_weights,
    within_animal_weights,
)
from nidecode.jobs.scope import Scope, blocks


def leave_out(sel: Selection, split: str) -> np.ndarray | None:
    """What a training trial's own image leaves out in ``train`` mode: its whole stimulus block
    under the block split (block-mates share its drift and label, test trials have none of
    them), itself alone under the trial split."""
    return sel.block if split == "block" and sel.block is not None else None


def weights(sel: Selection, train: np.ndarray, mode: PSMode, n_stimuli: int, split: str,
            response: np.ndarray | None = None) -> np.ndarray:
    """``W`` of every selected trial for one training mask. In ``train`` mode the responses are
    z-scored with the training trials' baseline windows and each training trial's image
    leaves out its block (block split); ``paper`` mode is transductive, as published.
    ``response``: responses to use instead (a control's shuffled ones)."""
    if mode == "paper":
        r = sel.response if response is None else response
        return within_animal_weights(r, sel.stimulus_index, n_stimuli, train, mode)
    r = sel.training_response(train) if response is None else response
    return within_animal_weights(r, sel.stimulus_index, n_stimuli, train, mode,
                                 leave_out(sel, split))


def blank_weights(ds: xr.Dataset, sel: Selection, train: np.ndarray, mode: PSMode,
                  n_stimuli: int, keep: np.ndarray) -> np.ndarray:
    """``W`` of the blanks ``keep`` selects, built as a test trial's: the blank's response
    (z-scored as the trials' are in ``mode``) times the preferred stimuli of the trials that
    build them (the training trials in ``train`` mode, every trial in ``paper`` mode)."""
    if mode == "paper" or sel.baseline_rate is None or sel.rate is None:
        r, basis = sel.response, np.ones(len(sel.response), dtype=bool)
        if mode == "train":
            basis = train
        blank = ds.blank_response.values[keep][:, sel.unit_mask]
    else:
        r, basis = sel.training_response(train), train
        blank = sel.training_scaled(ds.blank_rate.values[keep][:, sel.unit_mask], train)
    m = preferred_stimulus_weights(r[basis], sel.stimulus_index[basis], n_stimuli)
    return blank.astype(np.float32) @ m


def response_shuffle(sel: Selection, seed: int) -> np.ndarray:
    """One permutation of the trials per unit (seeded; the same in every fold): the control
    that keeps every unit's response distribution but breaks its link to the stimulus."""
    rng = np.random.default_rng([seed, 104729])
    return np.stack([rng.permutation(len(sel.stimulus_index))
                     for _ in range(sel.response.shape[1])], axis=1)


def shuffled_weights(sel: Selection, train: np.ndarray, mode: PSMode, n_stimuli: int,
                     split: str, shuffle: np.ndarray) -> np.ndarray:
    """``W`` from responses whose trials were permuted per unit (:func:`response_shuffle`)."""
    r = sel.training_response(train) if mode == "train" else sel.response
    return weights(sel, train, mode, n_stimuli, split, np.take_along_axis(r, shuffle, axis=0))


def raster(ds: xr.Dataset, sel: Selection, train: np.ndarray) -> np.ndarray:
    """The paper's temporal raster images: (time bin x unit) counts of each trial, z-scored
    with each unit's mean and SD over the training trials' bins (test trials never inform the
    scaling), as the paper's grey levels."""
    if "counts" not in ds:
        raise NidecodeError(
            f"{ds.attrs['animal']}: responses have no time-binned counts; set "
            "responses.time_bin_s in the config for raster images")
    x = sel.counts(ds).astype(np.float32)
    mu = x[train].mean(axis=(0, 1))
    sd = x[train].std(axis=(0, 1))
    return (x - mu) / np.where(sd > 0, sd, 1.0)


def decoder_inputs(inputs: Inputs, ds: xr.Dataset, sel: Selection, train: np.ndarray,
                   mode: PSMode | None, n_stimuli: int, split: str,
                   shuffle: np.ndarray | None = None) -> np.ndarray:
    """What a decoder that reads ``inputs`` sees for one training mask (all trials' rows)."""
    if inputs == "responses":
        return sel.response
    if inputs == "raster":
        return raster(ds, sel, train)
    if mode is None:
        raise ValueError("a decoder that reads W needs a preferred-stimulus mode")
    if shuffle is not None:
        return shuffled_weights(sel, train, mode, n_stimuli, split, shuffle)
    return weights(sel, train, mode, n_stimuli, split)


def relabelled(sel: Selection, scope: Scope, relabelling: int, animal: str
               ) -> tuple[np.ndarray, np.ndarray]:
    """Labels and fold groups of the ``relabelling``-th whole-block relabelling, in a seeded
    order (the time-respecting null; in the block split the folds follow the pseudo-classes)."""
    block, _ = blocks(sel, "block")
    options = block_relabellings(sel.y, block, seed=scope.seed)
    if not 0 <= relabelling < len(options):
        raise NidecodeError(f"{animal}: block relabelling {relabelling} requested, only "
                            f"{len(options)} exist; lower controls.dnn_block_relabellings")
    # A seeded order, so relabel-0..k-1 are a random sample of the relabellings.
    order = np.random.default_rng([scope.seed, 2718]).permutation(len(options))
    y = options[order[relabelling]]
    return y, np.array(sel.names)[y]


def within_weights_dataset(ds: xr.Dataset, stimuli: xr.Dataset, scope: Scope, mode: PSMode,
                           analysis: str = "main", response_shuffle_control: bool = False,
                           relabelling: int | None = None) -> xr.Dataset:
    """``W`` of every fold of one animal, with the fold masks and labels (one file per session).

    ``W[fold]`` (trial, stimulus): the trials' neural images are ``W[fold] @ U``. Controls as
    in :func:`nidecode.jobs.runner.within`.
    """
    sel = scope.select(ds, stimuli, analysis)
    idx = sel.stimulus_index
    shuffle = response_shuffle(sel, scope.seed) if response_shuffle_control else None
    n_stim = stimuli.sizes["stimulus"]
    y, group = sel.y, None
    if relabelling is not None:
        y, group = relabelled(sel, scope, relabelling, ds.attrs["animal"])
    trains = np.stack([scope.train_mask(sel, k, y, group) for k in range(scope.n_folds)])
    w = np.stack([decoder_inputs("weights", ds, sel, trains[k], mode, n_stim, scope.split,
                                 shuffle) for k in range(scope.n_folds)])
    info = {k: v for k, v in sel.info.items() if isinstance(v, str | int | float)}
    return xr.Dataset(
        {"W": (("fold", "trial", "stimulus"), w.astype(np.float32)),
         "train": (("fold", "trial"), trains),
         "label": ("trial", y)},
        coords={"fold": np.arange(scope.n_folds), "stimulus": np.arange(n_stim),
                "presentation_id": ("trial", ds.presentation_id.values[sel.trial_mask]),
                "stimulus_index": ("trial", idx)},
        attrs={"ps_mode": mode, "label_names": json.dumps(sel.names), "seed": scope.seed,
               "n_folds": scope.n_folds, "animal": ds.attrs["animal"], "split": scope.split,
               "relabelling": -1 if relabelling is None else relabelling,
               "source": ds.attrs["source"], "n_units": int(sel.unit_mask.sum()),
               "baseline": ds.attrs.get("baseline_method", ""),
               "control": "response_shuffle" if response_shuffle_control else "none", **info,
               "description": "neural images are W[fold] @ U with U = stimuli.nc image; "
                              f"preferred stimuli in '{mode}' mode"},
    )


def cross_weights(train_ds: list[xr.Dataset], test_ds: list[xr.Dataset], stimuli: xr.Dataset,
                  mode: PSMode, scope: Scope, calibration_fraction: float, seed: int,
                  cache: dict | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str], int]:
    """``W`` and labels of a cross-animal combo: every trial of the training animals, and the
    evaluated trials of the test animals (in ``train`` mode the others, a seeded
    ``calibration_fraction`` of whole blocks or trials, only build their preferred stimuli).
    Returns x_train, y_train, x_test, y_test, the label names and the calibration size.

    An animal's ``W`` in either role depends on that animal alone (and the mode, split and
    calibration seed), not on the combo: ``cache`` (a dict the caller keeps) builds it once for
    every combo of a batch."""
    cache = {} if cache is None else cache
    key = (mode, scope.split, scope.areas, scope.seed, calibration_fraction, seed)
    xs, ys, names = [], [], None
    for ds in train_ds:
        w, y, names = _cached(cache, ("train", ds.attrs["animal"], *key),
                              lambda ds=ds: _training_animal(ds, stimuli, mode, scope))
        xs.append(w)
        ys.append(y)
    xt, yt, n_cal = [], [], 0
    for ds in test_ds:
        w, y, test_names, n = _cached(
            cache, ("test", ds.attrs["animal"], *key),
            lambda ds=ds: _test_animal(ds, stimuli, mode, scope, calibration_fraction, seed))
        if test_names != names:
            raise NidecodeError(f"test animal {ds.attrs['animal']} has labels {test_names}, "
                                f"training animals {names}")
        xt.append(w)
        yt.append(y)
        n_cal += n
    return (np.concatenate(xs), np.concatenate(ys), np.concatenate(xt), np.concatenate(yt),
            list(names or []), n_cal)


def _cached(cache: dict, key: tuple, build):
    if key not in cache:
        cache[key] = build()
    return cache[key]


def _training_animal(ds: xr.Dataset, stimuli: xr.Dataset, mode: PSMode, scope: Scope
                     ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A training animal's ``W`` and labels: every trial trains, so the session-wide z-scoring
    is the training trials' own; in train mode each trial's image leaves out its block (block
    split)."""
    sel = scope.select(ds, stimuli)
    w, _ = cross_animal_weights(sel.response, sel.stimulus_index, stimuli.sizes["stimulus"],
                                "train", mode, leave_out=leave_out(sel, scope.split))
    return w, sel.y, sel.names


def _test_animal(ds: xr.Dataset, stimuli: xr.Dataset, mode: PSMode, scope: Scope,
                 calibration_fraction: float, seed: int
                 ) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    """A test animal's evaluated trials' ``W`` and labels, its label names and calibration
    size. In train mode it is z-scored with its calibration trials' baseline windows: its
    evaluated trials inform neither its preferred stimuli nor its scaling."""
    sel = scope.select(ds, stimuli)
    if mode == "train":
        block, name = blocks(sel, scope.split)
        cal = calibration(scope.split, sel.y, block, name, calibration_fraction, seed,
                          ds.attrs["animal"])
    else:
        cal = None
    r = sel.response if cal is None else sel.training_response(cal)
    w, evaluated = cross_animal_weights(r, sel.stimulus_index, stimuli.sizes["stimulus"], "test",
                                        mode, cal)
    return w[evaluated], sel.y[evaluated], sel.names, 0 if cal is None else int(cal.sum())
