"""summary.csv from metrics files: one row per job, DNN label-shuffle p-values, fold spread."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nidecode.evaluation.metrics import write_metrics, write_metrics_rows
from nidecode.report.aggregate import (
    COLUMNS,
    GROUP_COLUMNS,
    fold_spread,
    model_name,
    summarise,
)


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


def test_the_network_gets_a_group_test_from_its_retrained_relabellings(tmp_path):
    from nidecode.report.aggregate import group_time_tests

    rows = []
    for session, observed in (("M0", 0.9), ("M1", 0.7)):
        rows.append(job(model="efficientnet_lite0", session=session, balanced_accuracy=observed))
        rows.append(job(model="efficientnet_lite0", session=session, fold=1,
                        balanced_accuracy=0.99))  # another fold: not the test's statistic
        # 9 retrained relabellings on fold 0: M0 beats all; M1 beats 8 and ties one.
        rows += [job(model="efficientnet_lite0", session=session, control=f"relabel-{k}",
                     balanced_accuracy=0.7 if (session == "M1" and k == 0) else 0.5)
                 for k in range(9)]
    write_metrics_rows(rows, tmp_path / "net.json")
    out = group_time_tests([tmp_path / "net.json"], null_sessions=[])
    net = out[out.model == "efficientnet_lite0"].iloc[0]
    assert net.n_sessions == 2 and net.ps_mode == "train" and net.method == "exact"
    assert net.balanced_accuracy_mean == pytest.approx(0.8)
    # Joint picks whose mean reaches 0.8: M0 observed with M1 observed or its tied relabelling.
    assert net.p_time_group == pytest.approx(2 / 100)
    # Without its relabellings the network has no row, as in the default configuration.
    write_metrics_rows([r for r in rows if r["control"] == "none"], tmp_path / "main.json")
    assert group_time_tests([tmp_path / "main.json"], null_sessions=[]).empty


def test_blank_control_rows_and_front_page_line(tmp_path):
    from nidecode.report.aggregate import blank_control_means
    from nidecode.report.front_page import blank_control_line

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


# ------------------------------------------------------------- the front page's sentences
# Decoders as the front page names them: the GLM, kNN and the network on neural images.
DECODERS = {"glm": ("responses", None, 0.6), "knn": ("responses", None, 0.8),
            "efficientnet_lite0": ("neural_image", "train", 0.55)}


def decoded(sessions: list[str], models=tuple(DECODERS)) -> pd.DataFrame:
    """summary.csv of a run: each decoder within each animal, block split, fold 0."""
    rows = [job(model=m, inputs=DECODERS[m][0], ps_mode=DECODERS[m][1], session=s,
                accuracy=DECODERS[m][2], pretrained=False, arch=m, finetune="all")
            for s in sessions for m in models]
    return pd.DataFrame([{**r, "model_label": model_name(r)} for r in rows],
                        columns=[*COLUMNS, "model_label"])


def group_rows(tested: dict[str, float], sessions: list[str], partitions: int = 10
               ) -> pd.DataFrame:
    """group_tests.csv with decoder -> p over ``sessions``, each animal's null having
    ``partitions`` - 1 other block partitions (10 with 3 + 3 blocks, 3 with 2 + 2)."""
    from nidecode.evaluation.statistics import group_null_size

    floor = 1 / group_null_size([[0.5] * (partitions - 1)] * len(sessions))
    return pd.DataFrame([{"group": "animals", "split": "block", "model": m,
                          "ps_mode": DECODERS[m][1], "p_time_group": p, "p_floor": floor,
                          "n_sessions": len(sessions), "sessions": "+".join(sessions)}
                         for m, p in tested.items()], columns=GROUP_COLUMNS)


ANIMALS = ["A", "B", "C"]
TESTS_2, TESTS_3 = (f", in {n} group tests, one per decoder, each at p ≤ 0.05 without "
                    "correction for their number." for n in (2, 3))


@pytest.mark.parametrize("tested, says", [
    ({"glm": 0.001, "knn": 0.01},
     "The time-respecting test across the 3 animals rejects chance (p ≤ 0.05) for every "
     "decoder it was run for (GLM, kNN); the network was not tested against drift in this "
     "run" + TESTS_2),
    ({"glm": 0.01, "knn": 0.2},
     "The time-respecting test across the 3 animals rejects chance (p ≤ 0.05) for GLM and not "
     "for kNN; the network was not tested against drift in this run" + TESTS_2),
    ({"glm": 0.3, "knn": 0.2},
     "The time-respecting test across the 3 animals does not reject chance (p ≤ 0.05) for any "
     "decoder it was run for (GLM, kNN); the network was not tested against drift in this "
     "run" + TESTS_2),
    ({"glm": 0.01},
     "The time-respecting test across the 3 animals rejects chance (p ≤ 0.05) for GLM, the "
     "one decoder it was run for; the network was not tested against drift in this run."),
    ({"knn": 0.5},
     "The time-respecting test across the 3 animals does not reject chance (p ≤ 0.05) for "
     "kNN, the one decoder it was run for; the network was not tested against drift in this "
     "run."),
    # A network with a time test: no caveat about drift.
    ({"glm": 0.01, "efficientnet_lite0": 0.3},
     "The time-respecting test across the 3 animals rejects chance (p ≤ 0.05) for GLM and not "
     "for network on neural images" + TESTS_2),
    ({"glm": 0.01, "knn": 0.01, "efficientnet_lite0": 0.01},
     "The time-respecting test across the 3 animals rejects chance (p ≤ 0.05) for every "
     "decoder it was run for (GLM, kNN, network on neural images)" + TESTS_3),
    ({}, "No decoder was tested against drift across animals in this run."),
])
def test_verdict_says_for_which_decoders_the_time_test_rejects(tested, says):
    from nidecode.report.sentences import verdict

    text = verdict(decoded(ANIMALS), group_rows(tested, ANIMALS), [], "block")
    # Three animals, each with the same accuracies: the paired test's smallest p is 0.25.
    assert text == ("On these data no decoder is shown best: the kNN (0.800 within animal, "
                    "chance 0.5, block split, on the network's fold) scores highest, but it "
                    "cannot be told from the GLM and network on neural images (paired "
                    "sign-flip test over 3 animals, Holm-adjusted over 2 comparisons; the GLM "
                    "0.200 behind, p 0.5; with 3 animals the smallest p is 0.25). The network "
                    "on neural images reaches 0.550, 0.250 behind the kNN. " + says)


@pytest.mark.parametrize("animals, partitions, says", [
    # One animal's 10 block partitions: p can be no smaller than 0.1.
    (["A"], 10, "cannot reach p ≤ 0.05 with 1 animal (its smallest p is 0.1), so it decides "
                "nothing for GLM and kNN"),
    # Two animals of 2 + 2 blocks (3 partitions each): 1 / 9.
    (["A", "B"], 3, "cannot reach p ≤ 0.05 with 2 animals (its smallest p is 0.11), so it "
                    "decides nothing for GLM and kNN"),
])
def test_verdict_says_when_the_time_test_cannot_reach_alpha(animals, partitions, says):
    from nidecode.report.sentences import verdict

    groups = group_rows({"glm": 1.0, "knn": 0.1}, animals, partitions)
    text = verdict(decoded(animals), groups, [], "block")
    assert f"The time-respecting test {says}; the network was not tested" in text
    assert "rejects" not in text and "reject chance" not in text
    assert ("one animal)" in text) == (len(animals) == 1)
    assert ("with one animal no difference between decoders can be tested" in text) == (
        len(animals) == 1)


def test_verdict_with_decidable_and_undecidable_decoders():
    """One animal whose blocks give 30 partitions (floor 1/30) decides; a decoder whose null
    has fewer partitions cannot, and is named apart."""
    from nidecode.report.sentences import verdict

    groups = pd.concat([group_rows({"glm": 1 / 30}, ["A"], partitions=30),
                        group_rows({"knn": 0.2}, ["A"], partitions=10)])
    text = verdict(decoded(["A"]), groups, [], "block")
    assert text.endswith(
        "The time-respecting test on the one animal rejects chance (p ≤ 0.05) for GLM. The "
        "time-respecting test cannot reach p ≤ 0.05 with 1 animal (its smallest p is 0.1), so "
        "it decides nothing for kNN; the network was not tested against drift in this run"
        + TESTS_2)
    groups = group_rows({"glm": 0.2, "knn": 0.5}, ["A"], partitions=30)
    assert ("The time-respecting test on the one animal does not reject chance (p ≤ 0.05) for "
            "any decoder it was run for (GLM, kNN);") in verdict(decoded(["A"]), groups, [],
                                                                 "block")


def test_verdict_without_the_network_or_without_animals_with_information():
    from nidecode.report.sentences import verdict

    # Every session a null animal: nothing to compare.
    text = verdict(decoded(["N0"]), group_rows({}, []), ["N0"], "block")
    assert text == "No decoder ran on the animals with stimulus information."
    # The network did not run: no decoder is compared on its folds.
    text = verdict(decoded(ANIMALS, ("glm", "knn")), group_rows({"glm": 0.01}, ANIMALS), [],
                   "block")
    assert text == "No decoder ran on the animals with stimulus information."


def test_verdict_names_a_winner_only_when_the_paired_test_says_so():
    from nidecode.report.sentences import verdict

    animals = [f"A{k}" for k in range(8)]
    rng = np.random.default_rng(0)

    def run(knn_lead: float) -> str:
        rows = []
        for s in animals:
            base = 0.6 + rng.uniform(-0.05, 0.05)
            for m, acc in (("glm", base), ("knn", base + knn_lead + rng.uniform(-0.01, 0.01)),
                           ("efficientnet_lite0", base - 0.05)):
                rows.append(job(model=m, inputs=DECODERS[m][0], ps_mode=DECODERS[m][1],
                                session=s, accuracy=acc, arch=m, finetune="all",
                                pretrained=False))
        df = pd.DataFrame([{**r, "model_label": model_name(r)} for r in rows],
                          columns=[*COLUMNS, "model_label"])
        return verdict(df, group_rows({}, animals), [], "block")

    # kNN ahead in all 8 animals: exact p 2/256 per comparison, Holm x2 = 0.016.
    text = run(0.05)
    assert text.startswith("On these data the best decoder of natural vs artificial stimuli is "
                           "the kNN (")
    assert ("ahead of every other decoder (paired sign-flip test over 8 animals, Holm-adjusted "
            "over 2 comparisons: largest p 0.016, against the GLM)") in text
    # A lead of 0.001 that flips sign between animals: no winner named.
    text = run(0.0)
    assert text.startswith("On these data no decoder is shown best: the ")
    assert "cannot be told from the" in text and "smallest p is" not in text  # 8 animals can


def front_page_config(null: list[str], sessions: list[str]) -> dict:
    return {"decoding": {"split": "block", "ps_modes": ["train"], "compare_splits": []},
            "controls": {"null_sessions": null}, "source": "nwb", "sessions": sessions,
            "results_label": "own Allen NWB files"}


def test_front_page_with_one_animal_and_no_null_animal(tmp_path):
    """An own file alone: no null animal named anywhere, the time test's floor instead of its
    verdict, and the blank control not decoded in words (never 'nan')."""
    from nidecode.report.aggregate import group_time_tests
    from nidecode.report.front_page import front_page

    rows = [job(model="glm", inputs="responses", ps_mode=None, session="A", fold=k,
                balanced_accuracy=0.9, accuracy=0.9, time_null="block_relabelling",
                time_null_observed=0.9, time_null_accuracies=[0.5] * 9) for k in range(3)]
    rows += [job(model="efficientnet_lite0", session="A", fold=k, accuracy=0.7, arch="googlenet",
                 pretrained=False, finetune="all") for k in range(3)]
    rows += [job(model="glm", inputs="blank_responses", analysis="blank_control", session="A",
                 fold=k, balanced_accuracy=None, accuracy=None, skipped="too few blanks")
             for k in range(3)]
    write_metrics_rows(rows, tmp_path / "rows.json")
    groups = group_time_tests([tmp_path / "rows.json"], null_sessions=[])
    text = front_page(summarise([tmp_path / "rows.json"]), groups, front_page_config([], ["A"]))
    assert "**Data**: source ``nwb`` (own Allen NWB files), sessions A.\n" in text
    assert ("**Answer**: On these data the GLM (0.900 within animal, chance 0.5, block split, "
            "on the network's folds, one animal) scores highest; with one animal no difference "
            "between decoders can be tested. The network on neural images reaches 0.700, 0.200 "
            "behind the GLM. The "
            "time-respecting test cannot reach p ≤ 0.05 with 1 animal (its smallest p is 0.1), "
            "so it decides nothing for GLM; the network was not tested against drift in this "
            "run.\n") in text
    assert "null animal" not in text.lower()
    assert "     - 0.1 (smallest possible with 1 animal: 0.1)\n" in text
    assert "     - **not tested**\n" in text
    assert "Per animal, GLM on blanks / main GLM: A not decoded / 0.90;" in text
    assert "nan" not in text


def test_front_page_with_a_null_animal(tmp_path):
    from nidecode.report.front_page import front_page

    summary = pd.concat([decoded(["A", "B"]), decoded(["N0"])])
    groups = group_rows({"glm": 0.01, "knn": 0.04}, ["A", "B"])
    text = front_page(summary, groups, front_page_config(["N0"], ["A", "B", "N0"]))
    assert "sessions A, B, N0; null animal N0 (units blind to the stimulus)." in text
    assert ("The time-respecting test across the 2 animals rejects chance (p ≤ 0.05) for every "
            "decoder it was run for (GLM, kNN); the network was not tested") in text
    assert "     - null animal, block / trial split\n" in text
    assert "     - 0.600 / –\n" in text  # the GLM on the null animal, block split only
    assert "     - 0.01\n" in text and "smallest possible" not in text
    # The readout did not run on the null animal here: its line says what did, no 'nan'.
    assert "* **Null animal N0**: network ``train`` mode: block split 0.55.\n" in text
    assert "nan" not in text


def test_blanks_through_the_main_decoders_table_and_line(tmp_path):
    from nidecode.report.aggregate import blanks_through_main
    from nidecode.report.front_page import blanks_through_main_line

    rows = []
    # Per animal (main, blanks) balanced accuracy of the GLM; N0 is a null animal.
    for s, (main, blank) in {"A": (0.9, 0.6), "B": (0.8, 0.5), "C": (0.7, 0.6),
                             "N0": (0.5, 0.55)}.items():
        rows += [job(model="glm", inputs="responses", ps_mode=None, session=s, fold=k,
                     balanced_accuracy=main + d, blank_balanced_accuracy=blank - d,
                     n_blanks_scored=10) for k, d in enumerate((-0.05, 0.05))]
    rows.append(job(model="glm", inputs="responses", ps_mode=None, session="A",
                    split="trial", balanced_accuracy=0.95))  # no blanks scored: no row
    write_metrics_rows(rows, tmp_path / "rows.json")
    df = summarise([tmp_path / "rows.json"])
    t = blanks_through_main(df, "block", ["N0"]).set_index("group")
    a = t.loc["animals"]
    assert a.n_animals == 3 and a.main == pytest.approx(0.8) and a.blanks == pytest.approx(
        (0.6 + 0.5 + 0.6) / 3)
    # Differences 0.3, 0.3, 0.1 all positive: 2 of the 8 sign flips reach their mean.
    assert a.difference == pytest.approx(0.7 / 3) and a.p_paired == pytest.approx(0.25)
    assert a.n_blanks == 60
    n0 = t.loc["null N0"]
    assert n0.blanks == pytest.approx(0.55) and pd.isna(n0.p_paired)
    line = blanks_through_main_line(df, "block", ["N0"])
    assert "the GLM 0.80 on its test trials, **0.57** on the blanks, main − blanks paired " \
           "over 3 animals p 0.25" in line
    assert "not a part of its main score" in line
    assert "Null animals, main / blanks: N0 GLM 0.50 / 0.55" in line
    assert blanks_through_main_line(df, "trial", ["N0"]).endswith("not scored")


def test_cross_animal_negative_control_line_and_its_exclusion_from_the_cross_mean(tmp_path):
    from nidecode.report.aggregate import decoder_comparison
    from nidecode.report.front_page import null_cross_line

    rows = [job(model="glm", inputs="responses", ps_mode=None, session=s, accuracy=0.8)
            for s in ("M0", "M1")]
    rows += [job(model="efficientnet_lite0", session=s, accuracy=0.7, arch="efficientnet_lite0",
                 pretrained=True, finetune="head") for s in ("M0", "M1")]
    for combo, acc in (("M0__M1", 0.75), ("M0+M1__N0", 0.52)):
        train, test = combo.split("__")
        rows.append(job(model="efficientnet_lite0", task="cross", session=None, combo=combo,
                        train_sessions=train.split("+"), test_sessions=[test], accuracy=acc,
                        arch="efficientnet_lite0", pretrained=True, finetune="head"))
    write_metrics_rows(rows, tmp_path / "rows.json")
    df = summarise([tmp_path / "rows.json"])
    net = next(r for r in decoder_comparison(df, pd.DataFrame(columns=GROUP_COLUMNS), ["N0"])
               if r["model"] == "network")
    assert net["cross"] == pytest.approx(0.75) and net["n_cross"] == 1  # N0's combo left out
    line = null_cross_line(df, "block", ["N0"])
    assert line.startswith("* **Cross-animal negative control** (block split;")
    assert "trained on M0 + M1, tested on N0: network" in line and " 0.52" in line
    assert null_cross_line(df, "block", []) is None  # no null animal: no control


def test_tests_on_null_with_no_cross_rows_and_mixed_combos():
    from nidecode.report.aggregate import tests_on_null

    empty = pd.DataFrame({"combo": pd.Series([], dtype=object), "task": pd.Series([], dtype=str)})
    assert tests_on_null(empty, ["N0"]).tolist() == []
    rows = pd.DataFrame({"combo": ["M0+M1__N0", "M0__M1", None, "M0__N0+M1"],
                         "task": ["cross", "cross", "within", "cross"]})
    assert tests_on_null(rows, ["N0"]).tolist() == [True, False, False, False]
