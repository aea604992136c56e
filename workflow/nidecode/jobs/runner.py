"""The one job runner: any registered decoder within one animal (a fold, its nulls, its
controls) or across animals (a combo), and the record every job writes (docs/method.md §3–6).

A job chooses units, trials and labels through :meth:`nidecode.jobs.scope.Scope.select`, builds
what its decoder reads (:mod:`nidecode.jobs.inputs`) from the training mask, fits and predicts
through :meth:`nidecode.decoders.registry.Decoder.fit_predict`, and returns its metrics dict.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from nidecode.common.analyses import Analysis
from nidecode.common.errors import NidecodeError
from nidecode.data.selection import Selection
from nidecode.decoders.registry import Context, Decoder, Fit, get
from nidecode.evaluation.metrics import JobRecord, classification_metrics, combine_seeds
from nidecode.evaluation.splits import (
    block_relabellings,
    labels_constant_within_blocks,
    within_block_permutation,
)
from nidecode.evaluation.statistics import add_statistics, permutation_p, wilson_interval
from nidecode.images.neural_images import PSMode
from nidecode.jobs.inputs import (
    blank_weights,
    cross_weights,
    decoder_inputs,
    relabelled,
    response_shuffle,
)
from nidecode.jobs.scope import Scope, blocks

# How each kind of input is named in the records (``inputs``) unless the decoder says more.
RECORDED_INPUTS = {"responses": "responses", "weights": "neural_image_weights",
                   "raster": "raster"}


def record(ds: xr.Dataset, sel: Selection, scope: Scope, t0: float, **fields: Any) -> dict:
    """The :class:`JobRecord` of a within-animal job on selection ``sel``, as a dict, with the
    selection's own details (analysis, arousal counts, ...) and the blocks it spans; fields
    that are not JobRecord's are kept beside it."""
    fields.setdefault("split", scope.split)
    fields.setdefault("seed", scope.seed)
    info = {k: v for k, v in sel.info.items() if k not in ("animal", "areas_used", "analysis")}
    job = JobRecord(
        task="within", source=ds.attrs["source"], session=ds.attrs["animal"],
        analysis=fields.pop("analysis", sel.info.get("analysis", "main")),
        n_units=[int(sel.unit_mask.sum())], areas_used=sel.info.get("areas_used"),
        baseline=ds.attrs.get("baseline_method"),
        wall_time_s=round(time.perf_counter() - t0, 3),
        **{k: v for k, v in fields.items() if k in JobRecord.__dataclass_fields__})
    extra = {k: v for k, v in fields.items() if k not in JobRecord.__dataclass_fields__}
    n_blocks = None if sel.block is None else int(len(np.unique(sel.block)))
    return {**job.asdict(), "n_blocks": n_blocks, **info, **extra}


def balanced(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Balanced accuracy (mean recall over the classes present)."""
    recalls = [np.mean(y_pred[y_true == c] == c) for c in range(n_classes) if (y_true == c).any()]
    return float(np.mean(recalls))


def _context(dec: Decoder, stimuli: xr.Dataset, names: list[str], test_stimulus: np.ndarray |
             None = None, network: Any = None, workdir: Path | None = None) -> Context:
    stimulus_class = stimuli.stimulus_class.values.astype(str)
    return Context(n_classes=len(names),
                   basis=stimuli.image.values if dec.inputs == "weights" else None,
                   stimulus_label=np.searchsorted(names, stimulus_class),
                   test_stimulus=test_stimulus, workdir=workdir, network=network)


def blanks_in_test_blocks(ds: xr.Dataset, sel: Selection, scope: Scope, train: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray] | None:
    """The blanks a fold's fitted decoder is scored on (a mask over the dataset's blanks) and
    the class of each one's block.

    A blank (grey screen) inside a block shows no stimulus, so a decoder that calls a blank by
    its block's class reads time and context only. Block split: the blanks of the fold's test
    blocks (never seen in training, as the test trials); trial split: every blank (training
    trials surround them in time, as they surround the test trials). None where the responses
    have no blanks or no blocks, or the analysis's labels vary within blocks.
    """
    if "blank_response" not in ds or ds.sizes.get("blank", 0) == 0 or sel.block is None:
        return None
    block_class: dict[int, int] = {}
    for b, c in zip(sel.block.tolist(), sel.y.tolist(), strict=True):
        if block_class.setdefault(b, c) != c:
            return None  # labels vary within a block: a blank has no class
    blank_block = ds.blank_stimulus_block.values
    keep = np.isin(blank_block, list(block_class))
    if scope.split == "block":
        keep &= np.isin(blank_block, np.unique(sel.block[~train]))
    if not keep.any():
        return None
    return keep, np.array([block_class[b] for b in blank_block[keep].tolist()])


def blank_scores(y_blank: np.ndarray, predicted: np.ndarray, n_classes: int) -> dict:
    """How often a main decoder calls a blank by its block's class: balanced accuracy (chance
    1 / classes), accuracy with its Wilson interval, and the count."""
    k = int(np.sum(predicted == y_blank))
    lo, hi = wilson_interval(k, len(y_blank))
    return {"blank_balanced_accuracy": balanced(y_blank, predicted, n_classes),
            "blank_accuracy": k / len(y_blank), "blank_ci95_low": lo, "blank_ci95_high": hi,
            "n_blanks_scored": int(len(y_blank))}


def within(ds: xr.Dataset, stimuli: xr.Dataset, fold: int, scope: Scope, name: str = "glm",
           params: dict | None = None, analysis: Analysis | str = "main",
           mode: PSMode | None = None, n_permutations: int = 0, n_within_block: int = 0,
           control: str = "none", network: Any = None, workdir: Path | None = None) -> dict:
    """Decoder ``name`` (:mod:`nidecode.decoders.registry`) on fold ``fold`` of ``scope.split``.

    ``params``: the decoder's keyword arguments; ``mode``: the preferred-stimulus mode of a
    decoder that reads ``W``; ``network``, ``workdir``: a trained network's settings and
    checkpoint folder.

    Nulls: with ``n_permutations`` the training labels are shuffled that many times (seeded)
    and the refitted models' test accuracies form the label-shuffle null (``null_accuracies``).
    It ignores time, so it is valid only when trials are exchangeable (no slow drift). With
    ``n_within_block`` and labels that vary within blocks (sub-classes), the test labels are
    permuted among the trials of each block that many times, against the fixed predictions: a
    randomisation test that respects time (``p_time`` on balanced accuracy).

    ``control``: ``response_shuffle`` (each unit's responses permuted across trials before
    ``W`` is built), ``label_shuffle-k`` (the k-th seeded permutation of the training labels)
    or ``relabel-k`` (the k-th whole-block relabelling; in the block split the folds follow the
    pseudo-classes): one draw of a null, as its own job.
    """
    t0 = time.perf_counter()
    dec, params = get(name), dict(params or {})
    sel = scope.select(ds, stimuli, analysis)
    kind, _, k = control.partition("-")
    y, group = sel.y, None
    if kind == "relabel":
        y, group = relabelled(sel, scope, int(k), ds.attrs["animal"])
    train = scope.train_mask(sel, fold, y, group)
    shuffle = response_shuffle(sel, scope.seed) if control == "response_shuffle" else None
    x = decoder_inputs(dec.inputs, ds, sel, train, mode, stimuli.sizes["stimulus"],
                       scope.split, shuffle)
    if dec.trains_network:
        x = x.astype(np.float32)
    y_train = y[train]
    if kind == "label_shuffle":
        seed = network.seed if network is not None else scope.seed
        y_train = np.random.default_rng([seed, fold, int(k)]).permutation(y_train)
    context = _context(dec, stimuli, sel.names, sel.stimulus_index[~train], network, workdir)

    def fit(labels: np.ndarray) -> np.ndarray:
        return dec.fit_predict(x[train], labels, x[~train], context, **params)

    # The main fit also scores the blanks of its test blocks (rows are predicted one by one,
    # so the test trials' predictions are those of a fit without them; a network standardises
    # W and computes features with the training trials' statistics only).
    blanks = (blanks_in_test_blocks(ds, sel, scope, train) if control == "none"
              and dec.inputs in ("responses", "weights") and dec.scores_blanks
              and Analysis.of(analysis).kind == "main" else None)
    if blanks is None:
        result = fit(y_train)
    else:
        keep, y_blank = blanks
        x_blank = (ds.blank_response.values[keep][:, sel.unit_mask].astype(np.float64)
                   if dec.inputs == "responses" else
                   blank_weights(ds, sel, train, mode, stimuli.sizes["stimulus"], keep
                                 ).astype(x.dtype))
        both = dec.fit_predict(x[train], y_train, np.concatenate([x[~train], x_blank]),
                               context, **params)
        n_test = int((~train).sum())
        result = Fit(both.predicted[:n_test], both.record)
    out = classification_metrics(y[~train], result.predicted, sel.names)
    if blanks is not None:
        out.update(blank_scores(y_blank, both.predicted[n_test:], len(sel.names)))
    rng = np.random.default_rng([scope.seed, fold, 7919])
    null = [float(np.mean(fit(rng.permutation(y[train])).predicted == y[~train]))
            for _ in range(n_permutations)]
    extra: dict = {}
    if n_within_block and sel.block is not None and not labels_constant_within_blocks(
            y, sel.block):
        prng = np.random.default_rng([scope.seed, fold, 6007])
        yt, bt = y[~train], sel.block[~train]
        obs = balanced(yt, result.predicted, len(sel.names))
        time_null = [balanced(within_block_permutation(yt, bt, prng), result.predicted,
                              len(sel.names)) for _ in range(n_within_block)]
        extra = {"time_null": "within_block_permutation", "n_time_null": n_within_block,
                 "p_time": permutation_p(obs, np.asarray(time_null)),
                 "time_null_statistic": "balanced accuracy of the fold"}
    if dec.inputs == "raster":
        extra.update(time_bin_s=float(ds.time_bin.values[1] - ds.time_bin.values[0]),
                     raster="single trial: z-scored counts, units on y, time on x")
    if control != "none":
        extra["shuffle_kind"] = {"relabel": "block_relabelling",
                                 "label_shuffle": "trial_label_shuffle"}.get(kind)
    fitted = dict(result.record)
    out.update(record(
        ds, sel, scope, t0, model=fitted.pop("model", name),
        inputs=fitted.pop("inputs", RECORDED_INPUTS[dec.inputs]), ps_mode=mode, fold=fold,
        n_folds=scope.n_folds, n_train=int(train.sum()), control=control,
        null_accuracies=null, decoder_params=params, **params, **extra, **fitted))
    return out


def pooled_balanced(confusion: np.ndarray) -> float:
    """:func:`balanced` of the trials a confusion matrix (rows: true, columns: predicted)
    counts, summed over folds: the same value, bit for bit, as from the trials themselves."""
    cm = np.asarray(confusion)
    recalls = [cm[c, c] / cm[c].sum() for c in range(len(cm)) if cm[c].sum() > 0]
    return float(np.mean(recalls))


def in_threads(fn: Callable[[Any], Any], items: list, n_jobs: int = 1) -> list:
    """``[fn(i) for i in items]``, in ``n_jobs`` threads when more than one, BLAS then held to
    one thread per fit: scikit-learn's SVM solver and numpy's large operations release the
    GIL. Results come back in order; fits are deterministic, so any ``n_jobs`` gives the same
    list."""
    if n_jobs <= 1 or len(items) <= 1:
        return [fn(i) for i in items]
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), ThreadPoolExecutor(min(n_jobs, len(items))) as pool:
        return list(pool.map(fn, items))


def block_relabelling_null(ds: xr.Dataset, stimuli: xr.Dataset, scope: Scope,
                           name: str = "glm", params: dict | None = None,
                           analysis: Analysis | str = "main", max_relabellings: int = 1000,
                           mode: PSMode | None = None, observed: float | None = None,
                           n_jobs: int = 1, network: Any = None,
                           seeds: tuple[int, ...] = (), folds: list[int] | None = None
                           ) -> dict:
    """The time-respecting null of a block design: refit on whole-block relabellings.

    Every other assignment of the classes to whole stimulus blocks (each block keeps its trials
    and their drift) is decoded by decoder ``name`` with the same split and folds rebuilt from
    the pseudo-classes (``W`` rebuilt from each fold's training trials); the statistic is the
    balanced accuracy pooled over all folds. ``p_time`` = (1 + #relabellings scoring at least
    the observed) / (1 + #relabellings): with three blocks per class there are 9 (renaming the
    classes gives the same decoding), so p >= 0.1 in one session (see
    :func:`nidecode.evaluation.statistics.group_relabelling_p` for a test across animals).
    Returns {} when labels vary within blocks (use the within-block permutation of
    :func:`within` instead).

    ``observed``: the true labels' pooled balanced accuracy when the caller's folds already
    give it (:func:`pooled_balanced` of their summed confusion matrices), else it is refitted.
    ``n_jobs``: fits run in that many threads (:func:`in_threads`; the same numbers for any).
    ``folds``: the folds pooled (default: all), the same for the observed labels and every
    relabelling (a network that runs on fold 0 only is tested on fold 0).

    A trained network (``network``: its settings) fits every labelling and fold once per seed
    of ``seeds`` (default: its own seed), writing nothing (no checkpoint: a killed job refits);
    each labelling's statistic is the mean over seeds of its pooled balanced accuracy, the
    observed one included. With frozen features (``finetune: head``) the fits on one training
    set reuse its features (:func:`nidecode.decoders.network.fit_predict`), so the null costs
    a feature pass per distinct training set and a linear head per fit.
    """
    dec, params = get(name), dict(params or {})
    sel = scope.select(ds, stimuli, analysis)
    y = sel.y
    block, _ = blocks(sel, "block")
    if not labels_constant_within_blocks(y, block):
        return {}
    names = np.array(sel.names)
    n_stim = stimuli.sizes["stimulus"]
    context = _context(dec, stimuli, sel.names)
    # One context per seed; a decoder that is not a network fits once.
    contexts = ([replace(context, network=replace(network, seed=s))
                 for s in (seeds or (network.seed,))] if dec.trains_network else [context])

    relabellings = list(block_relabellings(y, block, max_relabellings, scope.seed))
    todo = ([] if observed is not None else [y]) + relabellings
    folds = list(range(scope.n_folds)) if folds is None else list(folds)
    fits = [(i, k) for i in range(len(todo)) for k in folds]
    # The pseudo-classes' block folds. Relabellings share folds (in the block split, 27 fits
    # of Allen's 3 + 3 blocks hold out only 10 distinct pairs of blocks), and what a decoder
    # reads (W) and an SVC's kernels depend on the training trials, not on their labels:
    # fits on the same trials run together, in one thread, and build them once.
    masks = [scope.train_mask(sel, k, todo[i], names[todo[i]]) for i, k in fits]
    same_trials: dict[bytes, list[int]] = {}
    for j, train in enumerate(masks):
        same_trials.setdefault(train.tobytes(), []).append(j)

    def fits_on(group: list[int]) -> list[tuple[np.ndarray, list[np.ndarray]]]:
        train = masks[group[0]]
        x = decoder_inputs(dec.inputs, ds, sel, train, mode, n_stim, scope.split)
        if dec.trains_network:
            x = x.astype(np.float32)
        labels = [todo[fits[j][0]] for j in group]
        return [(lab[~train], [dec.fit_predict(x[train], lab[train], x[~train], c,
                                               **params).predicted for c in contexts])
                for lab in labels]

    groups = list(same_trials.values())
    done: list = [None] * len(fits)
    for group, results in zip(groups, in_threads(fits_on, groups, n_jobs), strict=True):
        for j, result in zip(group, results, strict=True):
            done[j] = result
    per_labels = [done[i * len(folds):(i + 1) * len(folds)] for i in range(len(todo))]
    # Per labelling: the pooled balanced accuracy of each seed's folds, averaged over seeds.
    null = [float(np.mean([balanced(np.concatenate([t for t, _ in f]),
                                    np.concatenate([p[s] for _, p in f]), len(names))
                           for s in range(len(contexts))])) for f in per_labels]
    if observed is None:
        observed, null = null[0], null[1:]
    statistic = ("balanced accuracy pooled over folds" if len(folds) == scope.n_folds else
                 f"balanced accuracy pooled over folds {'+'.join(map(str, folds))}")
    if len(contexts) > 1:
        statistic += f", mean over {len(contexts)} seeds"
    return {"time_null": "block_relabelling", "n_time_null": len(null),
            "p_time": permutation_p(observed, np.asarray(null)),
            "time_null_observed": observed, "time_null_accuracies": null,
            "time_null_statistic": statistic, "time_null_folds": folds}


def session(ds: xr.Dataset, stimuli: xr.Dataset, scope: Scope, decoders: dict[str, dict],
            modes: list[str], n_permutations: int = 0, max_relabellings: int = 1000,
            n_jobs: int = 1) -> list[dict]:
    """Every fold of every decoder in ``decoders`` (name -> parameters, ``decoding.baselines``)
    on one session in ``scope.split``, with the label-shuffle and block-relabelling nulls the
    GLM gets. Decoders that read ``W`` run once per preferred-stimulus mode in ``modes``.
    ``n_jobs``: threads for the folds and the block-relabelling null's fits
    (:func:`in_threads`; the same numbers for any)."""
    rows = []
    for name, params in decoders.items():
        for mode in ([None] if get(name).inputs != "weights" else modes):
            folds = in_threads(lambda k, name=name, params=params, mode=mode: within(
                ds, stimuli, k, scope, name, params, mode=mode, n_permutations=n_permutations),
                list(range(scope.n_folds)), n_jobs)
            if max_relabellings:
                # The folds are the true labels' fits: their pooled accuracy is the observed.
                observed = pooled_balanced(np.sum([r["confusion_matrix"] for r in folds],
                                                  axis=0))
                null = block_relabelling_null(ds, stimuli, scope, name, params,
                                              max_relabellings=max_relabellings, mode=mode,
                                              observed=observed, n_jobs=n_jobs)
                for r in folds:
                    r.update(null)
            rows += [add_statistics(r) for r in folds]
    return rows


def cross(train_ds: list[xr.Dataset], test_ds: list[xr.Dataset], stimuli: xr.Dataset,
          mode: PSMode, scope: Scope, calibration_fraction: float, name: str = "svc_w",
          params: dict | None = None, seeds: tuple[int, ...] = (0,), combo: str = "",
          n_permutations: int = 0, network: Any = None, workdir: Path | None = None,
          cache: dict | None = None) -> tuple[dict, xr.Dataset]:
    """Decoder ``name`` trained on some animals' ``W`` and tested on other animals'.

    In ``train`` mode each test animal's preferred stimuli come from a calibration split
    (``calibration_fraction`` of its trials or blocks, seeded) and only the remaining trials
    are evaluated. Each of ``seeds`` draws its own calibration split (and, for a trained
    network, is the network's seed); accuracies are averaged over them. Each animal's rows are
    scaled by the decoder's ``across_animals`` (the SVC on W: each row z-scored across
    stimuli); test trials inform neither the fit nor the scaling. ``n_permutations`` label
    shuffles of the training animals give the label-shuffle null of the first seed's split.
    Returns the metrics and the first seed's evaluated trials' ``W`` with predictions.
    ``cache``: each animal's ``W`` kept across the combos of a batch
    (:func:`nidecode.jobs.inputs.cross_weights`).
    """
    t0 = time.perf_counter()
    dec, params = get(name), dict(params or {})
    if dec.across_animals is None:
        raise NidecodeError(f"decoder {name} reads {dec.inputs}, which do not transfer across "
                            "animals (their units differ); only W-based decoders run across "
                            "animals")
    runs, null, test_weights, fitted = [], [], None, {}
    for i, seed in enumerate(seeds):
        x_train, y_train, x_test, y_test, names, n_cal = cross_weights(
            train_ds, test_ds, stimuli, mode, scope, calibration_fraction, seed, cache)
        a, b = dec.across_animals(x_train), dec.across_animals(x_test)
        settings = None if network is None else replace(network, seed=seed)
        # One checkpoint folder per seed when there are several: each resumes on its own.
        seed_dir = (None if workdir is None else
                    Path(workdir) / f"seed{seed}" if len(seeds) > 1 else Path(workdir))
        context = _context(dec, stimuli, names, network=settings, workdir=seed_dir)
        result = dec.fit_predict(a, y_train, b, context, **params)
        fitted = dict(result.record)
        runs.append({**classification_metrics(y_test, result.predicted, names), **fitted,
                     "seed": seed})
        if i == 0:
            rng = np.random.default_rng([scope.seed, 7919])
            null = [float(np.mean(dec.fit_predict(a, rng.permutation(y_train), b, context,
                                                  **params).predicted == y_test))
                    for _ in range(n_permutations)]
            test_weights = xr.Dataset(
                {"W": (("trial", "stimulus"), x_test.astype(np.float32)),
                 "label": ("trial", y_test), "predicted": ("trial", result.predicted)},
                attrs={"combo": combo, "ps_mode": mode, "label_names": json.dumps(names),
                       "description": "evaluated test trials; neural images are W @ U"})
    out = combine_seeds(runs)
    job = JobRecord(
        model=fitted.pop("model", name), task="cross", source=",".join(sorted(
            {d.attrs["source"] for d in train_ds + test_ds})), split=scope.split,
        inputs=fitted.pop("inputs", RECORDED_INPUTS[dec.inputs]), combo=combo,
        train_sessions=[d.attrs["animal"] for d in train_ds],
        test_sessions=[d.attrs["animal"] for d in test_ds], n_train=int(len(y_train)),
        n_units=[int(scope.select(d, stimuli).unit_mask.sum()) for d in train_ds + test_ds],
        areas_used="+".join(scope.areas), baseline=train_ds[0].attrs.get("baseline_method"),
        ps_mode=mode, seed=seeds[0], pretrained=fitted.get("pretrained"),
        image_size=fitted.get("image_size"), epochs=fitted.get("epochs"),
        wall_time_s=round(time.perf_counter() - t0, 3))
    out.update(job.asdict(), seeds=list(seeds), n_calibration=n_cal, null_accuracies=null,
               calibration_fraction=calibration_fraction if mode == "train" else None,
               decoder_params=params, **params)
    return out, test_weights

