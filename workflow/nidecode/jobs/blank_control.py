"""The blank-presentation control: which kind of block a grey screen was shown in.

Allen interleaves blank (mean-luminance grey) presentations inside every static-gratings and
natural-scenes block. The screen is the same in both, so a decoder that tells a scenes block's
blanks from a gratings block's blanks reads *when* (slow drift) and *context* (what the block
around them showed), never the stimulus. Decoded with the main result's decoders and folds,
its accuracy above chance (0.5) is how much of the main accuracy time and context alone could
buy (docs/method.md, "The blank-presentation control").

Too few blanks: a fold is skipped (a row with ``skipped`` saying why) when a class has fewer
than :data:`MIN_BLANKS_PER_CLASS` blanks among its training or its test blanks; under the trial
split every fold is skipped when a class has fewer blanks than ``n_folds`` (no stratified split).
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import xarray as xr

from nidecode.common.analyses import Analysis
from nidecode.common.errors import NidecodeError
from nidecode.decoders.registry import get as get_decoder
from nidecode.evaluation.metrics import JobRecord, classification_metrics
from nidecode.evaluation.splits import block_fold_masks, block_id, train_mask
from nidecode.evaluation.statistics import add_statistics
from nidecode.jobs.scope import Scope

ANALYSIS = Analysis.blank_control().name
# Fewer blanks than this of one class in a fold's training or test set: the fold is skipped
# (one blank per class trains nothing a test can trust, and its balanced accuracy is 0 or 1).
MIN_BLANKS_PER_CLASS = 2
CHANCE = 0.5  # two block kinds, balanced accuracy


def response_decoders(config: dict) -> dict[str, dict]:
    """The GLM (``decoding.glm``) and every ``decoding.baselines`` decoder that reads the
    responses (svc, knn; not svc_w, which needs ``W`` of stimuli a blank does not have)."""
    d = config["decoding"]
    out = {"glm": dict(d["glm"])}
    out.update({name: dict(params or {}) for name, params in d["baselines"].items()
                if get_decoder(name).inputs == "responses"})
    return out


def blank_folds(ds: xr.Dataset, scope: Scope) -> list[np.ndarray]:
    """Training mask over the blanks of each fold of ``scope.split``.

    Block split: fold k holds out the blocks the main decoder's fold k tests (the k-th block of
    each stimulus, from the presentations' blocks, so a block without valid blanks shifts
    nothing). Trial split: the seeded stratified K-fold of
    :func:`nidecode.evaluation.splits.train_mask` on
    the blanks' block kinds.
    """
    block = ds.blank_stimulus_block.values
    kind = ds.blank_stimulus_name.values.astype(str)
    session = ds.attrs.get("animal", "")
    if scope.split == "block":
        p_block, p_name = ds.stimulus_block.values, ds.stimulus_name.values.astype(str)
        out = []
        for k in range(scope.n_folds):
            tested = p_block[~block_fold_masks(p_block, p_name, scope.n_folds, k, session)]
            out.append(~np.isin(block, tested))
        return out
    y = np.unique(kind, return_inverse=True)[1]
    return [train_mask(scope.split, y, block, kind, scope.n_folds, k, scope.seed, session)
            for k in range(scope.n_folds)]


def _too_few(y: np.ndarray, train: np.ndarray, names: list[str]) -> str | None:
    """Why a fold cannot be decoded (a class short of blanks), or None."""
    for part, mask in (("training", train), ("test", ~train)):
        for c, name in enumerate(names):
            n = int(np.sum(y[mask] == c))
            if n < MIN_BLANKS_PER_CLASS:
                return (f"{n} {name} blank(s) among the fold's {part} blanks, fewer than "
                        f"{MIN_BLANKS_PER_CLASS}")
    return None


def blank_control_session(ds: xr.Dataset, scope: Scope, decoders: dict[str, dict]) -> list[dict]:
    """Decode block kind (natural_scenes vs static_gratings) from one session's blanks.

    One row per decoder and fold (``analysis`` "blank_control", ``model`` the decoder):
    balanced accuracy (chance 0.5), n_train/n_test, the blanks per block
    (``n_blanks_per_block``: "stimulus_name block" -> count), and on every row of a decoder
    the mean balanced accuracy over its decoded folds (``mean_balanced_accuracy``). Folds with
    too few blanks carry ``skipped`` (the reason) instead of accuracies.
    """
    if "blank_response" not in ds:
        raise NidecodeError(f"{ds.attrs.get('animal', '?')}: responses have no blank "
                            "presentations (older file); rerun the responses rule")
    unit_mask = np.isin(ds.area.values.astype(str), list(scope.areas))
    if not unit_mask.any():
        raise NidecodeError(f"{ds.attrs.get('animal', '?')}: no units in {list(scope.areas)}")
    x = ds.blank_response.values[:, unit_mask].astype(np.float64)
    kind = ds.blank_stimulus_name.values.astype(str)
    block = ds.blank_stimulus_block.values
    names = ["natural_scenes", "static_gratings"]
    y = np.searchsorted(names, kind)
    per_block = {f"{n} {block_id(b)}": c for (n, b), c in
                 sorted(Counter(zip(kind.tolist(), block.tolist(), strict=True)).items())}
    per_class = {n: int(np.sum(kind == n)) for n in names}
    common = {"n_blanks_per_block": per_block, "n_blanks_per_class": per_class,
              "min_blanks_per_class": MIN_BLANKS_PER_CLASS, "n_blocks": len(per_block)}

    reason = None
    if scope.split == "trial" and min(per_class.values()) < scope.n_folds:
        reason = (f"blanks per block kind {per_class}: fewer than decoding.n_folds = "
                  f"{scope.n_folds} of a kind, no stratified {scope.n_folds}-fold split")
        folds: list[np.ndarray | None] = [None] * scope.n_folds
    else:
        folds = list(blank_folds(ds, scope))

    rows = []
    for name, params in decoders.items():
        dec = get_decoder(name)
        if dec.inputs != "responses":
            raise NidecodeError(f"decoder {name} reads {dec.inputs}; blanks have responses only")
        dec_rows = []
        for k, train in enumerate(folds):
            t0 = time.perf_counter()
            why = reason if train is None else _too_few(y, train, names)
            out: dict = {}
            if why is None:
                y_pred = dec.fit_predict(x[train], y[train], x[~train], **params).predicted
                out = classification_metrics(y[~train], y_pred, names)
            job = JobRecord(
                model=name, task="within", source=ds.attrs["source"], split=scope.split,
                inputs="blank_responses", analysis=ANALYSIS, session=ds.attrs["animal"],
                fold=k, n_folds=scope.n_folds,
                n_train=None if train is None else int(train.sum()),
                n_units=[int(unit_mask.sum())], areas_used="+".join(scope.areas),
                baseline=ds.attrs.get("baseline_method"), seed=scope.seed,
                wall_time_s=round(time.perf_counter() - t0, 3))
            row = {**out, **job.asdict(), **common, "chance": CHANCE,
                   "decoder_params": params, "labels": names}
            if train is not None:
                row["n_test"] = int((~train).sum())
                row["test_blocks"] = [block_id(b) for b in sorted(set(block[~train].tolist()))]
            if why is None:
                add_statistics(row)
            else:
                row["skipped"] = why
            dec_rows.append(row)
        done = [r["balanced_accuracy"] for r in dec_rows if "skipped" not in r]
        per_fold = [r.get("balanced_accuracy") for r in dec_rows]
        for r in dec_rows:
            r.update(fold_balanced_accuracies=per_fold,
                     mean_balanced_accuracy=float(np.mean(done)) if done else None,
                     n_folds_decoded=len(done))
        rows += dec_rows
    return rows
