"""Classification metrics and the per-job metrics.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix

from .io import atomic_path


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


def write_metrics(metrics: dict, path: str | Path) -> None:
    """Add intervals and p-values, then write metrics.json atomically (only on success)."""
    from .statistics import add_statistics

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
