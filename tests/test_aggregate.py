"""summary.csv from metrics files: one row per job, DNN label-shuffle p-values, fold spread."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from nidecode.aggregate import fold_spread, summarise
from nidecode.metrics import write_metrics, write_metrics_rows


def job(**kw) -> dict:
    base = {"model": "googlenet", "inputs": "neural_image", "task": "within", "ps_mode": "train",
            "session": "M0", "fold": 0, "accuracy": 0.8, "n_test": 100, "chance_level": 0.5,
            "control": "none", "analysis": "main"}
    return {**base, **kw}


def test_summary_rows_and_dnn_permutation_p(tmp_path):
    files = []
    for name, m in {
        "main0": job(),
        "main1": job(fold=1, accuracy=0.7),
        "shuffle0": job(control="label_shuffle-0", accuracy=0.5),
        "shuffle1": job(control="label_shuffle-1", accuracy=0.85),
        "glm": job(model="glm", inputs=None, ps_mode=None, accuracy=0.75),
    }.items():
        write_metrics(m, tmp_path / f"{name}.json")
        files.append(tmp_path / f"{name}.json")
    write_metrics_rows([job(model="glm", analysis="label-x", accuracy=0.6)],
                       tmp_path / "rows.json")
    files.append(tmp_path / "rows.json")
    df = summarise(files)
    assert len(df) == 6
    main0 = df[(df.control == "none") & (df.fold == 0) & (df.model == "googlenet")].iloc[0]
    # Null draws 0.5 and 0.85 against 0.8: p = (1 + 1) / (1 + 2).
    assert main0.p_permutation == pytest.approx(2 / 3) and main0.n_permutations == 2
    assert main0.ci95_low < 0.8 < main0.ci95_high
    # The fold-1 job has no shuffles of its own, so no permutation p-value.
    main1 = df[(df.control == "none") & (df.fold == 1)].iloc[0]
    assert pd.isna(main1.p_permutation)
    assert set(df.model_label) == {"DNN (train)", "GLM"}
    spread = fold_spread(df)
    row = spread[(spread.model_label == "DNN (train)") & (spread.control == "none")].iloc[0]
    assert row.n_folds == 2 and row.accuracy_mean == pytest.approx(0.75)
    assert row.accuracy_min == pytest.approx(0.7) and row.accuracy_max == pytest.approx(0.8)
    assert json.loads((tmp_path / "main0.json").read_text())["n_correct"] == 80
