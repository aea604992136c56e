"""The gabor-epoch drift control: how well each decoder reads a label that is only time, on
the recording's own units (docs/method.md, "The gabor-epoch drift control").

The session's gabor epoch (:mod:`nidecode.data.gabors`) is cut into one stretch per decoded
block, labelled in the session's own block order (Allen's: SG NS NS SG NS SG), and each gabor
condition's mean is removed from the counts. A session whose blocks cannot give the configured
folds, or without a unit in the decoded areas or a gabor epoch, gets rows that say why
(``skipped``) instead of a failed job. The main analysis's decoders (the GLM and the
response baselines) decode that label in the main analysis's splits and folds (block split:
fold k holds out the k-th stretch of each pseudo-class; trial split: seeded stratified folds),
with the same statistics: the Wilson interval, the binomial p against 0.5 and the
block-relabelling ``p_time`` (every other assignment of the pseudo-classes to the stretches,
refitted, pooled over folds), and across
animals the exact group test (:func:`nidecode.evaluation.statistics.group_relabelling_p`).

The same function decodes simulated sessions, Allen's, DANDI's, a user's NWB files and the
real gabor epochs of the exchange format (``benchmarks/studies/false_positives.py --real``).
"""

from __future__ import annotations

import time

import numpy as np

from nidecode.common.analyses import Analysis
from nidecode.data.gabors import LABEL_NAMES, GaborEpoch, condition_residuals, time_only_label
from nidecode.decoders.registry import get as get_decoder
from nidecode.evaluation.metrics import JobRecord, classification_metrics
from nidecode.evaluation.splits import block_relabellings, train_mask
from nidecode.evaluation.statistics import add_statistics, permutation_p

ANALYSIS = Analysis.drift_control().name
CHANCE = 0.5


def _balanced(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]))


def _abbreviated(order: tuple[str, ...]) -> str:
    """A block order as the docs write it: ``SG NS NS SG NS SG``."""
    return " ".join({"natural_scenes": "NS", "static_gratings": "SG"}.get(b, b) for b in order)


def why_not_decodable(epoch: GaborEpoch, split: str, n_folds: int,
                      areas: tuple[str, ...]) -> str | None:
    """Why ``epoch``'s time-only label cannot be decoded in ``split`` with ``n_folds`` folds,
    or None: no unit in ``areas``; a pseudo-class without a stretch; or, in the block split,
    fewer stretches of a pseudo-class than folds (each fold holds out one of each, as for the
    decoded blocks; :func:`nidecode.evaluation.splits.block_fold_masks`)."""
    where = f"session {epoch.session}"
    if not np.isin(epoch.area, areas).any():
        return f"{where}: no unit in {list(areas)} passes the filters"
    shown = {name: epoch.block_order.count(name) for name in LABEL_NAMES}
    order = _abbreviated(epoch.block_order)
    if min(shown.values()) == 0:
        return (f"{where}: its decoded blocks ({order or 'none'}) lack one of {LABEL_NAMES}, "
                "so the gabor epoch has no stretch of that pseudo-class")
    if split == "block" and min(shown.values()) < n_folds:
        return (f"{where}: its decoded blocks ({order}) give {min(shown.values())} stretch(es) "
                f"of a pseudo-class, fewer than decoding.n_folds = {n_folds}: the block split "
                "needs one of each in every fold (lower decoding.n_folds, or read the trial "
                "split's row)")
    if len(epoch.start_time) < 2 * len(epoch.block_order):
        return f"{where}: {len(epoch.start_time)} gabor presentations, too few to cut"
    return None


def drift_control_session(epoch: GaborEpoch, split: str, decoders: dict[str, dict],
                          n_folds: int = 3, seed: int = 0, max_relabellings: int = 1000,
                          areas: tuple[str, ...] = ("VISp",),
                          n_permutations: dict[str, int] | None = None) -> list[dict]:
    """Decode the time-only label of one session's gabor epoch in ``split``.

    One row per decoder and fold (``analysis`` "drift_control"): the fold's metrics, its
    Wilson interval and binomial p, and on every row of a decoder the pooled balanced accuracy
    over folds (``time_null_observed``), the block-relabelling null and its ``p_time``, and the
    mean balanced accuracy over folds. ``n_permutations``: label shuffles of each fold's
    training labels per decoder (the main job gives the GLM ``controls.glm_permutations``),
    ``p_permutation`` on each fold. A session without an epoch gives one row per decoder with
    ``skipped`` (the reason).
    """
    skipped = epoch.skipped or why_not_decodable(epoch, split, n_folds, areas)
    if skipped:
        return [{**JobRecord(model=name, task="within", source=epoch.source, split=split,
                             inputs="gabor_counts", analysis=ANALYSIS,
                             session=epoch.session).asdict(),
                 "skipped": skipped, "chance": CHANCE} for name in decoders]
    keep = np.isin(epoch.area, areas)
    x = condition_residuals(epoch.counts[:, keep], epoch.condition)
    y, block = time_only_label(epoch.start_time, epoch.block_order)
    names = list(LABEL_NAMES)

    def folds(labels: np.ndarray) -> list[np.ndarray]:
        group = np.asarray(names)[labels]
        return [train_mask(split, labels, block, group, n_folds, k, seed, epoch.session)
                for k in range(n_folds)]

    rows: list[dict] = []
    for name, params in decoders.items():
        dec = get_decoder(name)
        t0 = time.perf_counter()

        def fit(labels: np.ndarray, masks: list[np.ndarray], dec=dec, params=params
                ) -> list[np.ndarray]:
            return [dec.fit_predict(x[m], labels[m], x[~m], **params).predicted for m in masks]

        masks = folds(y)
        predicted = fit(y, masks)
        observed = _balanced(np.concatenate([y[~m] for m in masks]), np.concatenate(predicted))
        null = []
        for lab in block_relabellings(y, block, max_relabellings, seed):
            m = folds(lab)
            null.append(_balanced(np.concatenate([lab[~t] for t in m]),
                                  np.concatenate(fit(lab, m))))
        wall = time.perf_counter() - t0
        per_fold = []
        dec_rows = []
        for k, (train, pred) in enumerate(zip(masks, predicted, strict=True)):
            out = classification_metrics(y[~train], pred, names)
            rng = np.random.default_rng([seed, k, 7919])
            shuffled: list[float] = []
            for _ in range((n_permutations or {}).get(name, 0)):
                y_perm = y.copy()
                y_perm[train] = rng.permutation(y[train])
                shuffled.append(float(np.mean(fit(y_perm, [train])[0] == y[~train])))
            job = JobRecord(
                model=name, task="within", source=epoch.source, split=split,
                inputs="gabor_counts", analysis=ANALYSIS, session=epoch.session, fold=k,
                n_folds=n_folds, n_train=int(train.sum()), n_units=[int(keep.sum())],
                areas_used="+".join(areas), seed=seed, wall_time_s=round(wall / n_folds, 3))
            row = {**out, **job.asdict(), "chance": CHANCE, "decoder_params": params,
                   "labels": names, "n_test": int((~train).sum()), "null_accuracies": shuffled,
                   "test_blocks": sorted(set(block[~train].tolist())),
                   "label": f"time only: {len(epoch.block_order)} equal stretches of the "
                            f"gabor epoch, {_abbreviated(epoch.block_order)}; condition means "
                            "removed",
                   "n_presentations": int(len(y)),
                   "time_null": "block_relabelling", "n_time_null": len(null),
                   "p_time": permutation_p(observed, np.asarray(null)),
                   "time_null_observed": observed, "time_null_accuracies": null,
                   "time_null_statistic": "balanced accuracy pooled over folds"}
            dec_rows.append(add_statistics(row))
            per_fold.append(row["balanced_accuracy"])
        for r in dec_rows:
            r.update(fold_balanced_accuracies=per_fold,
                     mean_balanced_accuracy=float(np.mean(per_fold)))
        rows += dec_rows
    return rows
