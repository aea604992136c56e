"""Collect every job's metrics into tables: results/summary.csv and results/summary_folds.csv.

The front page's sentences are in nidecode.report.sentences, the front page itself in
nidecode.report.front_page.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from nidecode.common.analyses import Analysis
from nidecode.decoders.registry import registered
from nidecode.evaluation.statistics import (
    EXACT_LIMIT,
    group_null_size,
    group_relabelling_p,
    paired_sign_flip_p,
    permutation_p,
)

COLUMNS = [
    "model", "inputs", "task", "analysis", "control", "ps_mode", "split", "session", "combo",
    "train_sessions", "test_sessions", "fold", "n_folds", "accuracy", "ci95_low", "ci95_high",
    "balanced_accuracy", "chance_level", "chance_balanced_accuracy", "p_binomial",
    "p_permutation", "n_permutations", "p_time", "time_null", "n_time_null", "n_seeds",
    "seed_accuracy_sd", "seed_accuracies", "arch", "finetune", "image_channels",
    "time_null_observed", "shuffle_kind", "n_blocks", "labels", "n_train", "n_test",
    "n_calibration",
    "n_units", "areas_used", "pretrained", "image_size", "epochs", "seed", "device",
    "wall_time_s", "own_stimulus_top_fraction", "own_stimulus_top_chance", "source",
    "baseline", "skipped", "blank_balanced_accuracy", "blank_accuracy", "blank_ci95_low",
    "blank_ci95_high", "n_blanks_scored", "metrics_file", "fit",
]


ARCH_NAMES = {"efficientnet_lite0": "EfficientNet-Lite0", "googlenet": "GoogLeNet",
              "resnet18": "ResNet-18"}
CHANNEL_NAMES = {"on_off": "ON/OFF images", "grey": "grey images"}


def regime(m: dict) -> str:
    """How a network was trained, in words."""
    if m.get("finetune") == "head":
        return ("ImageNet features + linear classifier" if m.get("pretrained")
                else "random features + linear classifier")
    return "fine-tuned from ImageNet" if m.get("pretrained") else "trained from scratch"


def model_name(m: dict) -> str:
    """One name per decoder, in every table and figure: GLM, SVC, kNN, SVC on W (mode),
    top-stimulus readout (mode), network (mode), network on raster images, and for the
    transfer-learning comparison the backbone, its regime in words and its images."""
    decoders = registered()
    if m.get("model") in decoders:  # the GLM, the reference decoders, the readout
        label = decoders[m["model"]].label
        return f"{label} ({m.get('ps_mode')})" if decoders[m["model"]].inputs == "weights" \
            else label
    if m.get("analysis") and Analysis.parse(m["analysis"]).kind == "transfer":
        arch = m.get("arch", m.get("model"))
        channels = CHANNEL_NAMES.get(m.get("image_channels"), m.get("image_channels"))
        return (f"{ARCH_NAMES.get(arch, arch)}, {regime(m)}"
                + (f", {channels}" if channels else "") + f" ({m.get('ps_mode')})")
    if m.get("inputs") == "raster":
        return "network on raster images"
    return f"network ({m.get('ps_mode')})"


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
            for c in ("train_sessions", "test_sessions", "n_units", "labels", "seed_accuracies"):
                if isinstance(row[c], list):
                    row[c] = "+".join(str(v) for v in row[c])
            row["metrics_file"] = str(f)
            row["model_label"] = model_name(m)
            rows.append(row)
    df = pd.DataFrame(rows, columns=[*COLUMNS, "model_label"])
    control = df.control.astype(str)
    df["null_kind"] = np.where(control.str.startswith("label_shuffle"), "label_shuffle",
                               np.where(control.str.startswith("relabel-"), "relabel", ""))
    for (kind, split, session, fold, mode), null in df[df.null_kind != ""].groupby(
            ["null_kind", "split", "session", "fold", "ps_mode"]):
        target = ((df.control == "none") & (df.analysis == "main")
                  & ~df.model.isin(["glm", "readout"])
                  & (df.inputs == "neural_image") & (df.session == session) & (df.fold == fold)
                  & (df.ps_mode == mode) & (df.split == split))
        for i in df.index[target]:
            p = permutation_p(df.loc[i, "balanced_accuracy" if kind == "relabel" else "accuracy"],
                              null["balanced_accuracy" if kind == "relabel" else "accuracy"])
            if kind == "relabel":  # whole blocks relabelled: the null that respects time
                df.loc[i, ["p_time", "time_null", "n_time_null"]] = [
                    p, "block_relabelling (retrained)", len(null)]
            else:
                df.loc[i, ["p_permutation", "n_permutations"]] = [p, len(null)]
    df = df.drop(columns="null_kind")
    # A network's whole block-relabelling null, one job per animal (control
    # block_relabelling_null): its p_time goes to the main rows of the folds it tested, and
    # its own record leaves the table (it is not a fit of its own).
    nulls = df.control == NETWORK_NULL
    for i in df.index[nulls]:
        m = _rows(df.loc[i, "metrics_file"])[0]
        target = ((df.control == "none") & (df.analysis == "main")
                  & (df.inputs == "neural_image") & (df.session == m["session"])
                  & (df.split == m["split"]) & (df.ps_mode == m["ps_mode"])
                  & df.fold.isin(m["time_null_folds"]))
        for j in df.index[target]:
            df.loc[j, ["p_time", "time_null", "n_time_null", "time_null_observed"]] = [
                m["p_time"], "block_relabelling", m["n_time_null"],
                m["time_null_observed"]]
    df = df[~nulls]
    return df.sort_values(["task", "model_label", "analysis", "control", "split", "session",
                           "combo", "fold"], na_position="last").reset_index(drop=True)


# The control of a network's block-relabelling null job (nidecode.jobs.training).
NETWORK_NULL = "block_relabelling_null"

GROUP_COLUMNS = ["model", "ps_mode", "split", "group", "sessions", "n_sessions",
                 "balanced_accuracy_mean", "null_mean", "p_time_group", "p_floor", "method",
                 "n_draws"]


def group_time_tests(metric_files: list[str | Path], null_sessions: list[str],
                     n_draws: int = 100_000, seed: int = 0, analysis: str = "main"
                     ) -> pd.DataFrame:
    """Block-relabelling test across animals, for every decoder that has the null: is its mean
    balanced accuracy over animals above the null's?

    Each animal's observed labelling is one of its equally likely whole-block assignments
    under the null, and animals drift independently, so the null of the mean over animals
    picks one assignment per animal:
    :func:`nidecode.evaluation.statistics.group_relabelling_p`, exact
    (``method`` ``exact``) while the joint assignments number at most ``EXACT_LIMIT``, else
    ``n_draws`` Monte Carlo draws. With n animals and 10 distinct partitions each (3 + 3
    blocks) the floor is 10^-n instead of one session's 1/10. One row per decoder (``model``,
    ``ps_mode`` for decoders of W), split and group (the stimulus-carrying animals; each null
    animal alone). The network's null is its block-relabelling null job
    (``controls.dnn_relabelling_null``: every relabelling on the network's folds, every seed),
    else its retrained relabellings (``controls.dnn_block_relabellings``, fold 0); a decoder
    without a block-relabelling null has no row. ``analysis``: the rows tested
    (``drift_control``: the gabor-epoch drift control, whose label is only time).
    """
    per: dict[tuple[str, str, str, str], tuple[float, list[float]]] = {}
    # The network's null is retrained, one job per relabelling (controls.dnn_block_relabellings,
    # control "relabel-k"): its fold-0 balanced accuracy against the relabelled jobs' on the
    # same fold, the statistic of its own p_time (summarise).
    network_null: dict[tuple[str, str, str, str], tuple[float, list[float]]] = {}
    net_obs: dict[tuple[str, str, str, str], float] = {}
    net_null: dict[tuple[str, str, str, str], list[float]] = {}
    for f in metric_files:
        for m in _rows(f):
            if m.get("analysis") != analysis or m.get("task") not in (None, "within"):
                continue
            control = m.get("control") or "none"
            if control == NETWORK_NULL:  # the network's whole null, one job per animal
                key = (m["model"], m.get("ps_mode") or "", m["split"], m["session"])
                network_null[key] = (m["time_null_observed"], m["time_null_accuracies"])
            elif (control == "none" and m.get("time_null") == "block_relabelling"
                    and m.get("fold") == 0 and m.get("time_null_accuracies")):
                key = (m["model"], m.get("ps_mode") or "", m["split"], m["session"])
                per[key] = (m["time_null_observed"], m["time_null_accuracies"])
            elif m.get("inputs") == "neural_image" and m.get("fold") == 0 and (
                    control == "none" or control.startswith("relabel-")):
                key = (m["model"], m.get("ps_mode") or "", m["split"], m["session"])
                if control == "none":
                    net_obs[key] = m["balanced_accuracy"]
                else:
                    net_null.setdefault(key, []).append(m["balanced_accuracy"])
    per.update(network_null)  # it tests every fold the network ran, with every seed
    for key, null in net_null.items():
        if key in net_obs and key not in per:
            per[key] = (net_obs[key], null)
    rows = []
    for model, mode, split in sorted({k[:3] for k in per}):
        sessions = sorted(k[3] for k in per if k[:3] == (model, mode, split))
        groups = [("animals", [s for s in sessions if s not in null_sessions])]
        groups += [(f"null {s}", [s]) for s in sessions if s in null_sessions]
        for name, members in groups:
            if not members:
                continue
            obs = np.array([per[(model, mode, split, s)][0] for s in members])
            nulls = [per[(model, mode, split, s)][1] for s in members]
            p, null_mean = group_relabelling_p(list(obs), nulls, n_draws, seed)
            exact = group_null_size(nulls) <= EXACT_LIMIT
            floor = 1 / group_null_size(nulls)
            rows.append({"model": model, "ps_mode": mode or None, "split": split,
                         "group": name, "sessions": "+".join(members),
                         "n_sessions": len(members),
                         "balanced_accuracy_mean": round(float(obs.mean()), 4),
                         "null_mean": round(null_mean, 4), "p_time_group": float(p),
                         "p_floor": floor if exact else max(floor, 1 / (1 + n_draws)),
                         "method": "exact" if exact else "monte_carlo",
                         "n_draws": 0 if exact else n_draws})
    return pd.DataFrame(rows, columns=GROUP_COLUMNS)


def retention(summary: pd.DataFrame, reference: str = "svc_w") -> pd.DataFrame:
    """How much of its input the network keeps: its accuracy beside ``reference`` (an RBF SVC
    on ``W``, the stimulus weights its images are made of) on the same ``W``.

    One row per network job of the main analysis (within animal per session and fold, across
    animals per combo) with a ``reference`` row of the same split, preferred-stimulus mode and
    fold (or combo). ``gap`` = reference - network accuracy: positive when the network loses
    information its input holds.
    """
    df = summary[(summary.analysis == "main") & (summary.control == "none")]
    net = df[df.inputs == "neural_image"]
    ref = df[df.model == reference]
    cols = ["task", "unit", "split", "ps_mode", "fold", "network", "n_seeds", "network_accuracy",
            "network_seed_sd", f"{reference}_accuracy", "gap"]
    if not len(net) or not len(ref):
        return pd.DataFrame(columns=cols)
    keys = ["task", "unit", "split", "ps_mode", "fold"]
    net = net.assign(unit=net.session.fillna(net.combo), fold=net.fold.fillna(-1))
    ref = ref.assign(unit=ref.session.fillna(ref.combo), fold=ref.fold.fillna(-1))
    out = net[[*keys, "model_label", "n_seeds", "accuracy", "seed_accuracy_sd"]].merge(
        ref[[*keys, "accuracy"]].rename(columns={"accuracy": f"{reference}_accuracy"}), on=keys)
    out = out.rename(columns={"model_label": "network", "accuracy": "network_accuracy",
                              "seed_accuracy_sd": "network_seed_sd"})
    out["gap"] = out[f"{reference}_accuracy"] - out.network_accuracy
    out["fold"] = out.fold.where(out.fold >= 0)
    return out[cols].sort_values(["task", "split", "ps_mode", "unit"]).round(4).reset_index(
        drop=True)


def like_for_like_per_animal(within: pd.DataFrame, mode: str) -> pd.DataFrame:
    """Each decoder's accuracy per animal (rows: sessions, columns: model labels) on the folds
    the network ran (``decoding.dnn_folds``), over the animals where all of them ran; empty
    when the network did not run. Decoders reading ``W`` and the network in
    preferred-stimulus ``mode``."""
    df = within[within.ps_mode.isna() | (within.ps_mode == mode)]
    df = df[df.inputs.isin(["responses", "neural_image", "neural_image_weights"])]
    net = df[df.inputs == "neural_image"]
    if not len(net):
        return pd.DataFrame()
    folds = sorted({int(f) for f in net.fold.dropna()})
    df = df[df.fold.isin(folds)]
    per = df.groupby(["model_label", "session"]).accuracy.mean().unstack("model_label")
    per = per.dropna()  # animals where every decoder ran on those folds
    order = [m for m in per.columns if m not in set(net.model_label)] + sorted(
        set(net.model_label) & set(per.columns))
    per = per[order]
    per.attrs["folds"] = folds
    return per


def like_for_like(within: pd.DataFrame, mode: str) -> pd.DataFrame:
    """Every decoder's mean accuracy on the folds the network ran (``decoding.dnn_folds``),
    over the animals where all of them ran: one row per decoder, network included.

    ``within``: main-analysis, no-control within-animal rows of one split. Decoders reading
    ``W`` and the network in preferred-stimulus ``mode``.
    """
    cols = ["model_label", "accuracy", "n_sessions", "n_folds", "folds"]
    per = like_for_like_per_animal(within, mode)
    if per.empty:
        return pd.DataFrame(columns=cols)
    folds = per.attrs["folds"]
    return pd.DataFrame([{"model_label": m, "accuracy": float(per[m].mean()),
                          "n_sessions": len(per), "n_folds": len(folds), "folds": folds}
                         for m in per.columns], columns=cols)


def decoder_rows() -> list[tuple[str, str | None, str]]:
    """The decoders the front page sets side by side: (model, mode, name in sentences). Every
    registered decoder that is not a trained network (in ``train`` mode where it reads ``W``),
    in registration order, then the network on neural images; decoders a run did not run
    drop out of the table."""
    rows = [(name, "train" if d.inputs == "weights" else None, d.full_label)
            for name, d in registered().items() if not d.trains_network]
    return rows + [("network", "train", "network on neural images")]


def decoder_comparison(summary: pd.DataFrame, groups: pd.DataFrame, null: list[str],
                       split: str = "block") -> list[dict]:
    """Per decoder (:func:`decoder_rows`): its mean accuracy over the animals with stimulus
    information on the network's folds (``same``, like for like, over ``n_same_folds`` folds)
    and on all its folds (``all``), across animals (``cross``), the group test's p
    (``p_group``, NaN where it did not run) with its smallest possible p (``p_floor``) and
    number of animals (``n_group``), and the null animals' mean in each split.
    ``same_per_animal``: the ``same`` accuracies per animal (a Series by session), for the
    paired comparison of decoders
    (:func:`nidecode.report.sentences.decoder_difference_sentence`)."""
    s = summary[summary.control.fillna("none") == "none"]
    w = s[s.task == "within"]
    main = w[(w.analysis == "main") & (w.split == split)]
    informative = main[~main.session.isin(null)]
    same = like_for_like(informative, "train").set_index("model_label")
    per_animal = like_for_like_per_animal(informative, "train")
    cross = s[(s.task == "cross") & (s.analysis == "main") & (s.split == split)
              & (s.ps_mode == "train")]
    cross = cross[~tests_on_null(cross, null)]  # the negative control: front_page.null_cross_line
    g_all = groups[(groups.group == "animals") & (groups.split == split)]
    rows = []
    for model, mode, label in decoder_rows():
        def pick(d: pd.DataFrame, model: str = model, mode: str | None = mode) -> pd.DataFrame:
            d = d[d.inputs == "neural_image"] if model == "network" else d[d.model == model]
            return d[d.ps_mode == mode] if mode else d

        d = pick(informative)
        if not len(d):
            continue
        name = d.model_label.iloc[0]
        c = pick(cross)
        # The network's rows carry its architecture as model.
        g = g_all[g_all.model.isin(set(d.model)) & ((g_all.ps_mode == mode) if mode
                                                     else g_all.ps_mode.isna())]
        nulls = pick(w[w.session.isin(null) & (w.analysis == "main")])
        rows.append({
            "label": label, "model": model, "model_label": name,
            "same": float(same.loc[name, "accuracy"]) if name in same.index else np.nan,
            "same_per_animal": (per_animal[name] if name in per_animal.columns
                                else pd.Series(dtype=float)),
            "all": float(d.groupby("session").accuracy.mean().mean()),
            "n_folds": int(d.fold.nunique()), "n_animals": int(d.session.nunique()),
            "cross": float(c.accuracy.mean()) if len(c) else np.nan, "n_cross": len(c),
            "n_same_folds": int(same.n_folds.iloc[0]) if len(same) else 0,
            "p_group": float(g.p_time_group.iloc[0]) if len(g) else np.nan,
            "p_floor": float(g.p_floor.iloc[0]) if len(g) else np.nan,
            "n_group": int(g.n_sessions.iloc[0]) if len(g) else 0,
            "null_block": float(nulls[nulls.split == "block"].accuracy.mean()),
            "null_trial": float(nulls[nulls.split == "trial"].accuracy.mean()),
        })
    return rows


def fold_spread(summary: pd.DataFrame) -> pd.DataFrame:
    """Per model, analysis, control and session/combo: mean, SD, min and max over folds."""
    df = summary[summary.accuracy.notna()].copy()
    df["unit"] = df.session.fillna(df.combo)
    g = df.groupby(["task", "model_label", "analysis", "control", "split", "unit"],
                   dropna=False)
    out = g.accuracy.agg(["count", "mean", "std", "min", "max"]).rename(
        columns={"count": "n_folds", "mean": "accuracy_mean", "std": "accuracy_sd",
                 "min": "accuracy_min", "max": "accuracy_max"})
    out["chance_level"] = g.chance_level.mean()
    out["p_binomial_max"] = g.p_binomial.max()
    out["p_permutation_max"] = g.p_permutation.max()
    out["p_time_max"] = g.p_time.max()
    return out.reset_index().round(4)


def accuracy_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy per animal (within) or combo (cross), one column per model (main runs)."""
    main = summary[(summary.analysis == "main") & (summary.control == "none")].copy()
    main["column"] = main.model_label + ", " + main.split.astype(str) + " split"
    within = main[main.task == "within"].pivot_table(
        index="session", columns="column", values="accuracy", aggfunc="mean")
    cross = main[main.task == "cross"].pivot_table(
        index="combo", columns="column", values="accuracy", aggfunc="mean")
    within.index = [f"within {s}" for s in within.index]
    cross.index = [f"cross {c}" for c in cross.index]
    return pd.concat([within, cross]).round(3)


def benchmark_table(files: list[str | Path]) -> pd.DataFrame:
    """Snakemake's per-job benchmark files (``benchmark:`` of every rule) as one table.

    One row per job: ``rule`` and ``job`` (the file's path below results/benchmarks/<rule>/),
    wall seconds ``s``, peak resident memory ``max_rss_mb``, ``cpu_time`` (s) and
    ``mean_load`` (%). Files of jobs that did not run in this invocation keep their old rows.
    """
    rows = []
    for f in files:
        path = Path(f)
        parts = path.parts
        k = parts.index("benchmarks")
        t = pd.read_csv(path, sep="\t")
        for _, r in t.iterrows():
            rows.append({"rule": parts[k + 1], "job": "/".join(parts[k + 2:])[:-len(".tsv")],
                         "s": float(r["s"]), "max_rss_mb": float(r.get("max_rss", float("nan"))),
                         "cpu_time": float(r.get("cpu_time", float("nan"))),
                         "mean_load": float(r.get("mean_load", float("nan")))})
    return pd.DataFrame(rows, columns=["rule", "job", "s", "max_rss_mb", "cpu_time", "mean_load"])


def blank_control_means(summary: pd.DataFrame, exclude: list[str] | tuple = ()
                        ) -> pd.DataFrame:
    """The blank-presentation control per split and decoder: balanced accuracy averaged over
    each animal's decoded folds, then over animals (``exclude``: sessions left out).

    Columns: split, model, model_label, balanced_accuracy (mean over animals), n_sessions (with
    a decoded fold), n_skipped_folds. Skipped folds (too few blanks) count in no mean.
    """
    cols = ["split", "model", "model_label", "balanced_accuracy", "n_sessions",
            "n_skipped_folds"]
    df = summary[(summary.analysis == "blank_control") & ~summary.session.isin(exclude)]
    rows = []
    for (split, model), d in df.groupby(["split", "model"], sort=False):
        done = d[d.skipped.isna() & d.balanced_accuracy.notna()]
        per = done.groupby("session").balanced_accuracy.mean()
        rows.append({"split": split, "model": model, "model_label": d.model_label.iloc[0],
                     "balanced_accuracy": float(per.mean()) if len(per) else float("nan"),
                     "n_sessions": len(per), "n_skipped_folds": int(len(d) - len(done))})
    return pd.DataFrame(rows, columns=cols)


def tests_on_null(rows: pd.DataFrame, null: list[str] | tuple) -> pd.Series:
    """Which cross-animal rows test on null animals only (the negative-control combos)."""
    def on_null(combo: object) -> bool:
        test = str(combo).partition("__")[2] if isinstance(combo, str) else ""
        return bool(test) and all(a in null for a in test.split("+"))

    return pd.Series([on_null(c) for c in rows.combo], index=rows.index, dtype=bool) & (
        rows.task == "cross")


def blanks_through_main(summary: pd.DataFrame, split: str,
                        null: list[str] | tuple = ()) -> pd.DataFrame:
    """Each main decoder's accuracy beside what it gives the blanks of its test blocks.

    One row per decoder that scored blanks (``blank_balanced_accuracy`` on its main rows) and
    group (``animals``: those with stimulus information; each null animal alone): the mean
    over animals of each animal's fold-mean balanced accuracy (``main``) and blanks' balanced
    accuracy (``blanks``), their difference, and the exact paired sign-flip p of the
    per-animal differences (``p_paired``; NaN for one animal).
    """
    cols = ["model", "model_label", "split", "group", "n_animals", "main", "blanks",
            "difference", "p_paired", "n_blanks"]
    df = summary[(summary.analysis == "main") & (summary.control == "none")
                 & (summary.task == "within") & (summary.split == split)]
    if "ps_mode" in df:  # the decoders on W: their leak-free mode (paper mode has self-terms)
        df = df[df.ps_mode.isna() | (df.ps_mode == "train")]
    df = df[df.blank_balanced_accuracy.notna()] if "blank_balanced_accuracy" in df else df[:0]
    order = {m: i for i, m in enumerate(registered())}
    rows = []
    for model in sorted(set(df.model), key=lambda m: order.get(m, len(order))):
        d = df[df.model == model]
        per = d.groupby("session")[["balanced_accuracy", "blank_balanced_accuracy"]].mean()
        n_blanks = d.groupby("session").n_blanks_scored.sum()
        groups = [("animals", [a for a in per.index if a not in null])]
        groups += [(f"null {a}", [a]) for a in per.index if a in null]
        for name, members in groups:
            if not members:
                continue
            m = per.loc[members]
            diff = (m.balanced_accuracy - m.blank_balanced_accuracy).to_numpy()
            rows.append({"model": model, "model_label": d.model_label.iloc[0], "split": split,
                         "group": name, "n_animals": len(members),
                         "main": float(m.balanced_accuracy.mean()),
                         "blanks": float(m.blank_balanced_accuracy.mean()),
                         "difference": float(diff.mean()),
                         "p_paired": paired_sign_flip_p(diff) if len(diff) > 1 else np.nan,
                         "n_blanks": int(n_blanks.loc[members].sum())})
    return pd.DataFrame(rows, columns=cols)
