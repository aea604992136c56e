"""Collect every job's metrics into tables: results/summary.csv and results/summary_folds.csv."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .statistics import permutation_p

COLUMNS = [
    "model", "inputs", "task", "analysis", "control", "ps_mode", "session", "combo",
    "train_sessions", "test_sessions", "fold", "n_folds", "accuracy", "ci95_low", "ci95_high",
    "balanced_accuracy", "chance_level", "chance_balanced_accuracy", "p_binomial",
    "p_permutation", "n_permutations", "labels", "n_train", "n_test", "n_calibration",
    "n_units", "areas_used", "pretrained", "image_size", "epochs", "seed", "device",
    "wall_time_s", "own_stimulus_top_fraction", "own_stimulus_top_chance", "source",
    "baseline", "skipped", "metrics_file",
]


def model_name(m: dict) -> str:
    """Label in tables and figures: GLM, DNN (mode), DNN raster, top-stimulus readout (mode)."""
    if m.get("model") == "glm":
        return "GLM"
    if m.get("model") == "probe":
        return f"top-stimulus readout ({m.get('ps_mode')})"
    if m.get("inputs") == "raster":
        return "DNN raster"
    return f"DNN ({m.get('ps_mode')})"


def _rows(path: str | Path) -> list[dict]:
    data = json.loads(Path(path).read_text())
    return data if isinstance(data, list) else [data]


def summarise(metric_files: list[str | Path]) -> pd.DataFrame:
    """One row per job (per fold), sorted by task, model, analysis and session/combo.

    DNN label-shuffle controls become the permutation null of the matching main job
    (same session, fold and mode): ``p_permutation`` there, with ``n_permutations`` draws.
    """
    rows = []
    for f in metric_files:
        for m in _rows(f):
            row = {c: m.get(c) for c in COLUMNS}
            row["analysis"] = row["analysis"] or "main"
            row["control"] = row["control"] or "none"
            for c in ("train_sessions", "test_sessions", "n_units", "labels"):
                if isinstance(row[c], list):
                    row[c] = "+".join(str(v) for v in row[c])
            row["metrics_file"] = str(f)
            row["model_label"] = model_name(m)
            rows.append(row)
    df = pd.DataFrame(rows, columns=[*COLUMNS, "model_label"])
    shuffles = df[df.control.astype(str).str.startswith("label_shuffle")]
    for (session, fold, mode), null in shuffles.groupby(["session", "fold", "ps_mode"]):
        target = ((df.control == "none") & (df.analysis == "main") & (df.model == "googlenet")
                  & (df.inputs == "neural_image") & (df.session == session) & (df.fold == fold)
                  & (df.ps_mode == mode))
        for i in df.index[target]:
            df.loc[i, "p_permutation"] = permutation_p(df.loc[i, "accuracy"], null.accuracy)
            df.loc[i, "n_permutations"] = len(null)
    return df.sort_values(["task", "model_label", "analysis", "control", "session", "combo",
                           "fold"], na_position="last").reset_index(drop=True)


def fold_spread(summary: pd.DataFrame) -> pd.DataFrame:
    """Per model, analysis, control and session/combo: mean, SD, min and max over folds."""
    df = summary[summary.accuracy.notna()].copy()
    df["unit"] = df.session.fillna(df.combo)
    g = df.groupby(["task", "model_label", "analysis", "control", "unit"], dropna=False)
    out = g.accuracy.agg(["count", "mean", "std", "min", "max"]).rename(
        columns={"count": "n_folds", "mean": "accuracy_mean", "std": "accuracy_sd",
                 "min": "accuracy_min", "max": "accuracy_max"})
    out["chance_level"] = g.chance_level.mean()
    out["p_binomial_max"] = g.p_binomial.max()
    out["p_permutation_max"] = g.p_permutation.max()
    return out.reset_index().round(4)


def accuracy_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy per animal (within) or combo (cross), one column per model (main runs)."""
    main = summary[(summary.analysis == "main") & (summary.control == "none")]
    within = main[main.task == "within"].pivot_table(
        index="session", columns="model_label", values="accuracy", aggfunc="mean")
    cross = main[main.task == "cross"].pivot_table(
        index="combo", columns="model_label", values="accuracy", aggfunc="mean")
    within.index = [f"within {s}" for s in within.index]
    cross.index = [f"cross {c}" for c in cross.index]
    return pd.concat([within, cross]).round(3)
