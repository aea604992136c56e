"""Collect every job's metrics.json into one table (results/summary.csv)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

COLUMNS = [
    "model", "inputs", "task", "ps_mode", "label", "session", "combo", "train_sessions",
    "test_sessions", "fold", "n_folds", "accuracy", "balanced_accuracy", "chance_level",
    "chance_balanced_accuracy", "n_train", "n_test", "n_calibration", "n_units", "pretrained",
    "image_size", "epochs", "seed", "device", "wall_time_s", "source", "areas", "baseline",
    "metrics_file",
]


def model_name(m: dict) -> str:
    """Short label used in tables and figures: glm, dnn (train), dnn (paper), raster."""
    if m["model"] == "glm":
        return "GLM"
    if m.get("inputs") == "raster":
        return "DNN raster"
    return f"DNN ({m['ps_mode']})"


def summarise(metric_files: list[str | Path]) -> pd.DataFrame:
    """One row per job, sorted by task, model and session/combo."""
    rows = []
    for f in metric_files:
        m = json.loads(Path(f).read_text())
        row = {c: m.get(c) for c in COLUMNS}
        for c in ("train_sessions", "test_sessions", "n_units"):
            if isinstance(row[c], list):
                row[c] = "+".join(str(v) for v in row[c])
        row["metrics_file"] = str(f)
        row["model_label"] = model_name(m)
        rows.append(row)
    df = pd.DataFrame(rows, columns=[*COLUMNS, "model_label"])
    return df.sort_values(["task", "model_label", "session", "combo", "fold"],
                          na_position="last").reset_index(drop=True)


def accuracy_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy per animal (within) or combo (cross), one column per model."""
    within = summary[summary.task == "within"].pivot_table(
        index="session", columns="model_label", values="accuracy", aggfunc="mean")
    cross = summary[summary.task == "cross"].pivot_table(
        index="combo", columns="model_label", values="accuracy", aggfunc="mean")
    within.index = [f"within {s}" for s in within.index]
    cross.index = [f"cross {c}" for c in cross.index]
    return pd.concat([within, cross]).round(3)
