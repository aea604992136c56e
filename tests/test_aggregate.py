"""summary.csv from metrics files: one row per job, DNN label-shuffle p-values, fold spread."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from nidecode.evaluation.metrics import write_metrics, write_metrics_rows
from nidecode.report.aggregate import fold_spread, summarise


def job(**kw) -> dict:
    base = {"model": "googlenet", "inputs": "neural_image", "task": "within", "ps_mode": "train",
            "session": "M0", "fold": 0, "accuracy": 0.8, "n_test": 100, "chance_level": 0.5,
            "control": "none", "analysis": "main", "split": "block", "balanced_accuracy": 0.8}
    return {**base, **kw}


def test_summary_rows_and_dnn_permutation_p(tmp_path):
    files = []
    for name, m in {
        "main0": job(),
        "main1": job(fold=1, accuracy=0.7),
        "shuffle0": job(control="label_shuffle-0", accuracy=0.5),
        "shuffle1": job(control="label_shuffle-1", accuracy=0.85),
        # Whole-block relabellings: the time-respecting null, on balanced accuracy.
        "relabel0": job(control="relabel-0", balanced_accuracy=0.4),
        "relabel1": job(control="relabel-1", balanced_accuracy=0.6),
        "relabel2": job(control="relabel-2", balanced_accuracy=0.9),
        "glm": job(model="glm", inputs=None, ps_mode=None, accuracy=0.75),
    }.items():
        write_metrics(m, tmp_path / f"{name}.json")
        files.append(tmp_path / f"{name}.json")
    write_metrics_rows([job(model="glm", analysis="label-x", accuracy=0.6)],
                       tmp_path / "rows.json")
    files.append(tmp_path / "rows.json")
    df = summarise(files)
    assert len(df) == 9
    main0 = df[(df.control == "none") & (df.fold == 0) & (df.model == "googlenet")].iloc[0]
    # Null draws 0.5 and 0.85 against 0.8: p = (1 + 1) / (1 + 2).
    assert main0.p_permutation == pytest.approx(2 / 3) and main0.n_permutations == 2
    assert main0.ci95_low < 0.8 < main0.ci95_high
    # Relabellings 0.4, 0.6 and 0.9 against 0.8: p_time = (1 + 1) / (1 + 3).
    assert main0.p_time == pytest.approx(0.5) and main0.n_time_null == 3
    assert main0.time_null == "block_relabelling (retrained)"
    # The fold-1 job has no shuffles of its own, so no permutation p-value.
    main1 = df[(df.control == "none") & (df.fold == 1)].iloc[0]
    assert pd.isna(main1.p_permutation)
    assert set(df.model_label) == {"network (train)", "GLM"}
    spread = fold_spread(df)
    row = spread[(spread.model_label == "network (train)") & (spread.control == "none")].iloc[0]
    assert row.n_folds == 2 and row.accuracy_mean == pytest.approx(0.75)
    assert row.accuracy_min == pytest.approx(0.7) and row.accuracy_max == pytest.approx(0.8)
    assert json.loads((tmp_path / "main0.json").read_text())["n_correct"] == 80


def test_group_time_test_across_animals(tmp_path):
    from nidecode.report.aggregate import group_time_tests

    files = []
    for session, observed in (("M0", 0.9), ("M1", 0.8), ("N0", 0.5)):
        rows = [job(model="glm", session=session, fold=k, time_null="block_relabelling",
                    time_null_observed=observed, time_null_accuracies=[0.5] * 9)
                for k in range(3)]
        write_metrics_rows(rows, tmp_path / f"{session}.json")
        files.append(tmp_path / f"{session}.json")
    out = group_time_tests(files, null_sessions=["N0"], n_draws=20000)
    animals = out[out.group == "animals"].iloc[0]
    assert animals.sessions == "M0+M1" and animals.n_sessions == 2 and animals.model == "glm"
    # Both animals beat all 9 of their relabellings: only the pick of both observed
    # labellings reaches the mean, probability 1/10 * 1/10, counted exactly.
    assert animals.p_time_group == pytest.approx(0.01, rel=1e-12)
    assert animals.p_floor == pytest.approx(0.01) and animals.method == "exact"
    null = out[out.group == "null N0"].iloc[0]
    assert null.p_time_group == pytest.approx(1.0)  # 0.5 ties every relabelling


def test_blank_control_rows_and_front_page_line(tmp_path):
    from nidecode.report.aggregate import blank_control_line, blank_control_means

    rows = [job(model=m, inputs="blank_responses", analysis="blank_control", session=s,
                fold=k, split=sp, balanced_accuracy=acc, chance_balanced_accuracy=0.5)
            for sp in ("block", "trial") for s, acc in (("M0", 0.6), ("M1", 0.8), ("N0", 0.9))
            for m in ("glm", "svc") for k in range(2)]
    rows.append({**rows[0], "fold": 2, "balanced_accuracy": None, "accuracy": None,
                 "skipped": "1 natural_scenes blank(s) among the fold's test blanks"})
    write_metrics_rows(rows + [job(model="glm", session="M0", balanced_accuracy=0.9)],
                       tmp_path / "rows.json")
    df = summarise([tmp_path / "rows.json"])
    blank = df[df.analysis == "blank_control"]
    assert len(blank) == 25 and set(blank.model_label) == {"GLM", "SVC"}
    means = blank_control_means(df, exclude=["N0"])
    glm = means[(means.split == "block") & (means.model == "glm")].iloc[0]
    # Mean over animals of each animal's decoded folds (the skipped fold counts in none).
    assert glm.balanced_accuracy == pytest.approx(0.7) and glm.n_sessions == 2
    assert glm.n_skipped_folds == 1
    line = blank_control_line(df, "block", ["N0"])
    assert "GLM **0.70**" in line and "SVC **0.70**" in line and "main GLM 0.90" in line
    assert "time/context, not stimulus" in line and "1 fold(s) skipped" in line
    assert blank_control_line(df, "none", ["N0"]).endswith("not run")
    # The main analysis' tables leave the control out.
    from nidecode.report.aggregate import accuracy_table

    assert list(accuracy_table(df).columns) == ["GLM, block split"]


def test_like_for_like_takes_every_decoder_on_the_networks_folds():
    from nidecode.report.aggregate import like_for_like

    rows = []
    for session, shift in (("A", 0.0), ("B", 0.1)):
        for fold, acc in enumerate((0.6, 0.7, 0.8)):
            rows.append({"session": session, "model": "glm", "model_label": "GLM",
                         "inputs": "responses", "ps_mode": None, "fold": fold,
                         "accuracy": acc + shift})
        rows.append({"session": session, "model": "efficientnet_lite0",
                     "model_label": "network (train)", "inputs": "neural_image", "ps_mode": "train",
                     "fold": 0, "accuracy": 0.5 + shift})
    out = like_for_like(pd.DataFrame(rows), "train").set_index("model_label")
    # Fold 0 only: GLM (0.6 + 0.7) / 2, not the 3-fold mean 0.75.
    assert out.loc["GLM", "accuracy"] == pytest.approx(0.65)
    assert out.loc["network (train)", "accuracy"] == pytest.approx(0.55)
    assert out.n_sessions.tolist() == [2, 2] and out.folds.iloc[0] == [0]


def test_verdict_names_the_winner_the_gap_and_what_was_tested():
    from nidecode.report.aggregate import verdict

    rows = []
    for session in ("A", "B"):
        for model, label, inputs, mode, acc in (
                ("glm", "GLM", "responses", None, 0.6), ("knn", "kNN", "responses", None, 0.8),
                ("efficientnet_lite0", "network (train)", "neural_image", "train", 0.55)):
            rows.append({"session": session, "model": model, "model_label": label,
                         "inputs": inputs, "ps_mode": mode, "fold": 0, "accuracy": acc,
                         "task": "within", "analysis": "main", "control": "none",
                         "split": "block"})
    groups = pd.DataFrame([
        {"group": "animals", "split": "block", "model": "glm", "ps_mode": None,
         "p_time_group": 0.01},
        {"group": "animals", "split": "block", "model": "knn", "ps_mode": None,
         "p_time_group": 0.2}])
    text = verdict(pd.DataFrame(rows), groups, [], "block")
    assert "best decoder of natural vs artificial stimuli is the kNN (0.800" in text
    assert "the network on neural images reaches 0.550, 0.250 behind it" in text
    assert "rejects chance (p ≤ 0.05) for GLM and not for kNN" in text
    assert text.endswith("the network was not tested against drift in this run.")
