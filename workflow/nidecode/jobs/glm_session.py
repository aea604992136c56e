"""The GLM's job on one session: every fold with its nulls, the top-stimulus readout of the
neural images in both modes, and the time-confound control."""

from __future__ import annotations

import itertools
import time

import numpy as np
import xarray as xr

from nidecode.common.analyses import Analysis
from nidecode.decoders.reference import glm
from nidecode.evaluation.metrics import classification_metrics
from nidecode.evaluation.splits import block_id, fold_masks
from nidecode.evaluation.statistics import add_statistics
from nidecode.images.neural_images import PS_MODES
from nidecode.jobs.runner import block_relabelling_null, record, within
from nidecode.jobs.scope import Scope, blocks


def glm_session(ds: xr.Dataset, stimuli: xr.Dataset, scope: Scope, C: float = 1.0,
                n_permutations: int = 0, max_relabellings: int = 1000,
                time_confound_control: bool = True) -> list[dict]:
    """Every GLM row of one session in ``scope.split``: each fold (label-shuffle null and the
    block-relabelling null), the top-stimulus readout of the neural images in both modes, and
    the time-confound control. Rows carry their statistics."""
    rows = [within(ds, stimuli, k, scope, "glm", {"C": C}, n_permutations=n_permutations)
            for k in range(scope.n_folds)]
    if max_relabellings:
        null = block_relabelling_null(ds, stimuli, scope, "glm", {"C": C},
                                      max_relabellings=max_relabellings)
        for r in rows:
            r.update(null)
    rows = [add_statistics(r) for r in rows]
    rows += [add_statistics(top_stimulus_readout(ds, stimuli, k, scope, mode))
             for mode in PS_MODES for k in range(scope.n_folds)]
    if time_confound_control:
        rows += [add_statistics(r) for r in time_confound(ds, stimuli, scope, C)]
    return rows


def top_stimulus_readout(ds: xr.Dataset, stimuli: xr.Dataset, fold: int, scope: Scope,
                         mode: str) -> dict:
    """The top-stimulus readout (:mod:`nidecode.decoders.readout`) on fold ``fold`` in
    preferred-stimulus ``mode``, recorded as analysis ``readout-<mode>``: in ``paper`` mode it
    measures the leak of a trial's own stimulus into its image without any network."""
    out = within(ds, stimuli, fold, scope, "readout", mode=mode)
    out["analysis"] = Analysis.readout(mode).name
    return out


def time_confound(ds: xr.Dataset, stimuli: xr.Dataset, scope: Scope, C: float = 1.0,
                  n_folds: int = 3) -> list[dict]:
    """How much slow drift a decoder could read: *which block* a trial came from.

    Within one stimulus (the same stimuli in every block, so only time separates the blocks),
    every pair of blocks is decoded by the GLM with a random stratified ``n_folds`` split (as
    a trial-split decoder would see them); predictions are pooled over pairs and folds. Chance
    is 0.5; anything above it is time, not stimulus. One row per stimulus.
    """
    t0 = time.perf_counter()
    sel = scope.select(ds, stimuli)
    block, name = blocks(sel, "block")
    rows = []
    for stim in sorted(set(name.tolist())):
        ids = sorted(set(block[name == stim].tolist()))
        y_true, y_hat, pairs = [], [], []
        for a, b in itertools.combinations(ids, 2):
            idx = np.flatnonzero(np.isin(block, [a, b]))
            yb = (block[idx] == b).astype(int)
            xb = sel.response[idx]
            for k in range(n_folds):
                train = fold_masks(yb, n_folds, k, scope.seed)
                y_hat.append(glm(xb[train], yb[train], xb[~train], C))
                y_true.append(yb[~train])
            pairs.append(f"{block_id(a)}-{block_id(b)}")
        if not pairs:
            continue
        out = classification_metrics(np.concatenate(y_true), np.concatenate(y_hat),
                                     ["earlier block", "later block"])
        # Within a pair of blocks the trials are drawn at random: a trial split.
        out.update(record(ds, sel, scope, t0, model="glm", analysis=Analysis.time(stim).name,
                          split="trial", n_folds=n_folds, C=C, block_pairs=pairs))
        rows.append(out)
    return rows
