"""Classification metrics and the per-job metrics.json."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix

from nidecode.common.io import atomic_path


@dataclass
class JobRecord:
    """What every decoding job records beside its metrics, under one naming scheme.

    ``model``: the decoder (glm, svc, ..., readout), or a network's backbone; ``inputs``:
    responses | neural_image_weights | neural_image | raster; ``baseline``: the responses'
    baseline method (the pre-stimulus window); ``control``: none, response_shuffle,
    label_shuffle-k, relabel-k or block_relabelling_null (a network's whole null, one job).
    Extra, job-specific keys (nulls, settings, the training record) are added beside these
    by the job runner.
    """

    model: str
    task: str
    source: str
    split: str
    inputs: str = "responses"
    analysis: str = "main"
    session: str | None = None
    combo: str | None = None
    train_sessions: list[str] | None = None
    test_sessions: list[str] | None = None
    fold: int | None = None
    n_folds: int | None = None
    n_train: int | None = None
    n_units: list[int] = field(default_factory=list)
    areas_used: str | None = None
    baseline: str | None = None
    ps_mode: str | None = None
    control: str = "none"
    seed: int = 0
    pretrained: bool | None = None
    image_size: int | None = None
    epochs: int | None = None
    wall_time_s: float | None = None

    def asdict(self) -> dict:
        return asdict(self)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray,
                           label_names: list[str]) -> dict:
    """Accuracy, balanced accuracy, confusion matrix (rows: true, columns: predicted), chance.

    ``chance_level`` is the accuracy of always guessing the test set's majority class;
    balanced accuracy's chance is 1 / n_classes.
    """
    labels = np.arange(len(label_names))
    counts = np.bincount(y_true, minlength=len(label_names))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "labels": list(label_names),
        "n_test": int(len(y_true)),
        "chance_level": float(counts.max() / counts.sum()),
        "chance_balanced_accuracy": 1.0 / len(label_names),
    }


def combine_seeds(runs: list[dict]) -> dict:
    """One record of a job trained with several seeds: the mean accuracy over seeds, their SD
    and each seed's accuracy; the confusion matrix summed over seeds. Intervals and binomial
    p-values are then those of one run of ``n_test`` trials at the mean accuracy."""
    if len(runs) == 1:
        return {**runs[0], "seeds": [runs[0]["seed"]], "n_seeds": 1, "seed_accuracy_sd": None,
                "seed_accuracies": [runs[0]["accuracy"]]}
    out = dict(runs[0])
    acc = np.array([r["accuracy"] for r in runs])
    bal = np.array([r["balanced_accuracy"] for r in runs])
    out.update(
        accuracy=float(acc.mean()), balanced_accuracy=float(bal.mean()),
        confusion_matrix=np.sum([r["confusion_matrix"] for r in runs], axis=0).tolist(),
        seeds=[r["seed"] for r in runs], n_seeds=len(runs),
        seed_accuracies=acc.tolist(), seed_accuracy_sd=float(acc.std(ddof=1)),
        seed_balanced_accuracies=bal.tolist(),
        fit_seconds=float(sum(r.get("fit_seconds", 0.0) for r in runs)),
        wall_time_s=float(sum(r.get("wall_time_s", 0.0) for r in runs)),
        resumed_from_checkpoint=any(r.get("resumed_from_checkpoint") for r in runs),
        seed=None,
    )
    return out


def write_metrics(metrics: dict, path: str | Path) -> None:
    """Add intervals and p-values, then write metrics.json atomically (only on success)."""
    from nidecode.evaluation.statistics import add_statistics

    add_statistics(metrics)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2, sort_keys=True, default=_default))


def _default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def write_metrics_rows(rows: list[dict], path: str | Path) -> None:
    """Several jobs' metrics (already with statistics) in one JSON list, written atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(rows, indent=1, sort_keys=True, default=_default))
