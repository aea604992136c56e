"""The docs' result tables, generated from one run's tables (README.md,
docs/how-to-read-results.md).

:func:`snapshot` copies the tables a finished run wrote (``results/summary.csv``,
``retention.csv``, ``group_tests.csv``, ``benchmarks.csv``, and the calibration study's
``false_positives.csv`` where given) into ``docs/run/`` with the run's name, commit and command.
:func:`render` turns that snapshot into named Markdown blocks; :func:`fill` writes each block
between its markers in a doc::

    <!-- run-table: within -->
    ...generated...
    <!-- /run-table -->

:func:`unsourced_numbers` lists the numbers a doc states that appear neither in the snapshot's
tables nor in its generated blocks (tests/test_docs_numbers.py fails on any).
``benchmarks/runs/docs_tables.py`` is the command line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from nidecode.common.analyses import FUTURE_WORK_KINDS, analysis_field
from nidecode.decoders.registry import registered
from nidecode.report.aggregate import ARCH_NAMES, model_name

SUMMARY_COLUMNS = [
    "model", "model_label", "inputs", "task", "analysis", "control", "ps_mode", "split",
    "session", "combo", "fold", "accuracy", "balanced_accuracy", "chance_balanced_accuracy",
    "p_time", "n_seeds", "seed_accuracy_sd", "arch", "finetune", "image_channels", "pretrained",
    "own_stimulus_top_fraction", "n_test", "skipped", "blank_balanced_accuracy",
    "n_blanks_scored", "fit",
]
TABLES = ("summary.csv", "retention.csv", "group_tests.csv", "benchmarks.csv")
STUDY = "false_positives.csv"
DRIFT_GROUPS = "group_tests_drift_control.csv"  # runs before the drift control lack it
BEGIN = re.compile(r"<!-- run-table: ([a-z0-9_]+) -->\n")
END = "<!-- /run-table -->"
# A stated result: a decimal with at least two digits after the point, or a power of ten
# (a version, "Python 3.11", is not one).
NUMBER = re.compile(
    r"(?<![\w.])(?<!Python )[-+−]?\d+\.\d{2,}(?:e-?\d+)?(?!\w|\.\d)|\d(?:\.\d+)?e-\d+")


class Snapshot:
    """One run's tables as the docs quote them (``docs/run/``)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.run = json.loads((self.folder / "run.json").read_text())
        self.summary = pd.read_csv(self.folder / "summary.csv")
        self.retention = pd.read_csv(self.folder / "retention.csv")
        self.groups = pd.read_csv(self.folder / "group_tests.csv")
        self.benchmarks = pd.read_csv(self.folder / "benchmarks.csv")
        study = self.folder / STUDY
        self.study = pd.read_csv(study) if study.exists() else None
        drift = self.folder / DRIFT_GROUPS
        self.drift_groups = pd.read_csv(drift) if drift.exists() else None
        self.null = list(self.run.get("null_sessions", []))

    @property
    def within(self) -> pd.DataFrame:
        s = self.summary
        return s[(s.task == "within") & (s.control == "none")]

    def order(self, sessions) -> list[str]:
        """Animals with stimulus information (sorted), then the null animals."""
        found = sorted(set(sessions))
        return [a for a in found if a not in self.null] + [a for a in found if a in self.null]

    @property
    def animals(self) -> list[str]:
        """Sessions with stimulus information (the null animals left out)."""
        return sorted(a for a in self.within.session.dropna().unique() if a not in self.null)


def snapshot(results: str | Path, out: str | Path, run: dict,
             study: str | Path | None = None) -> None:
    """Copy a finished run's tables into ``out`` (replacing what was there), with ``run``
    (name, commit, command, machine, wall time, jobs, null sessions) as run.json."""
    results, out = Path(results), Path(out)
    missing = [t for t in TABLES if not (results / t).exists()]
    if missing:
        raise FileNotFoundError(f"{results}: no {', '.join(missing)}; run the main job first")
    out.mkdir(parents=True, exist_ok=True)
    s = pd.read_csv(results / "summary.csv")
    s[[c for c in SUMMARY_COLUMNS if c in s]].to_csv(out / "summary.csv", index=False)
    for t in TABLES[1:]:
        pd.read_csv(results / t).to_csv(out / t, index=False)
    if (results / DRIFT_GROUPS).exists():
        pd.read_csv(results / DRIFT_GROUPS).to_csv(out / DRIFT_GROUPS, index=False)
    if study is not None:
        # The relabellings' accuracies stay: the group tests are recomputed from them.
        pd.read_csv(study).to_csv(out / STUDY, index=False)
    (out / "run.json").write_text(json.dumps(run, indent=1) + "\n")


# ------------------------------------------------------------------------------ rendering


def _spread(g: pd.DataFrame) -> str:
    """Mean over folds (and seeds), with the SD over folds or, for one fold, over seeds."""
    if not len(g) or g.accuracy.isna().all():
        return ""
    m = g.accuracy.mean()
    if len(g) > 1:
        return f"{m:.3f} ± {g.accuracy.std(ddof=1):.3f}"
    sd = g.seed_accuracy_sd.iloc[0]
    return f"{m:.3f} ± {sd:.3f}" if pd.notna(sd) else f"{m:.3f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _kind(df: pd.DataFrame) -> pd.Series:
    """Each row's analysis kind (:class:`nidecode.common.analyses.Analysis`)."""
    return pd.Series(analysis_field(df.analysis), index=df.index, dtype=object)


def _network(w: pd.DataFrame) -> pd.DataFrame:
    return w[(w.inputs == "neural_image") & (w.analysis == "main")]


def run_line(snap: Snapshot) -> str:
    r = snap.run
    # Where it ran: a fresh clone unless the run's record says otherwise.
    where = r.get("where", "in a fresh clone")
    return (f"Run `{r['name']}`: commit {r['commit']}, `{r['command']}` {where} on "
            f"{r['machine']} ({r['wall']}, {r['jobs']} jobs).")


def within_table(snap: Snapshot) -> str:
    """Per animal: the GLM in both splits, the network, the readout, the time controls."""
    w, s = snap.within, snap.summary
    blanks = s[(s.analysis == "blank_control") & (s.model == "glm") & (s.split == "block")]
    header = ["animal", "GLM, block", "GLM, trial", "network, block (fold 0)",
              "readout `train`, block", "readout `paper`, block", "which block? (GLM)",
              "blanks (GLM, block)", "p_time (GLM, block)"]
    rows = []
    for a in snap.order(w.session.dropna()):
        d = w[w.session == a]
        glm = d[(d.model == "glm") & (d.analysis == "main")]
        net = _network(d)
        net = net[(net.split == "block") & (net.ps_mode == "train")]
        readout = d[(d.model == "readout") & (d.split == "block")]
        conf = d[_kind(d) == "time"]
        p = glm[glm.split == "block"].p_time
        rows.append([a + (" (null)" if a in snap.null else ""),
                     _spread(glm[glm.split == "block"]), _spread(glm[glm.split == "trial"]),
                     _spread(net),
                     _spread(readout[readout.analysis == "readout-train"]),
                     _spread(readout[readout.analysis == "readout-paper"]),
                     f"{conf.accuracy.mean():.3f}",
                     f"{blanks[blanks.session == a].balanced_accuracy.mean():.3f}",
                     f"{p.iloc[0]:.1f}" if len(p) else ""])
    return _table(header, rows)


NULL_ROWS = [("GLM", "glm", None), ("SVC", "svc", None), ("kNN", "knn", None),
             ("SVC on W", "svc_w", "train"), ("SVC on W", "svc_w", "paper"),
             ("network", "network", "train"), ("network", "network", "paper"),
             ("top-stimulus readout", "readout", "train"),
             ("top-stimulus readout", "readout", "paper")]


def null_table(snap: Snapshot) -> str:
    """Every decoder on the null animal(s), both splits, both preferred-stimulus modes."""
    out = []
    for null in snap.null:
        d = snap.within[snap.within.session == null]
        d = d[d.analysis.isin(["main", "readout-train", "readout-paper"])
              & (d.inputs.astype(str) != "raster")]
        rows = []
        for label, model, mode in NULL_ROWS:
            g = _network(d) if model == "network" else d[d.model == model]
            if mode:
                g = g[g.ps_mode == mode]
            rows.append([label, mode or "–", _spread(g[g.split == "block"]),
                         _spread(g[g.split == "trial"])])
        out.append(_table([f"{null}: decoder", "mode", "block split", "trial split"], rows))
    return "\n\n".join(out)


BASELINES = [("GLM", "glm"), ("SVC", "svc"), ("kNN", "knn"), ("SVC on W", "svc_w")]


def like_for_like_table(snap: Snapshot, split: str = "block") -> str:
    """Per animal: every decoder on the network's fold(s) (same trials), the gap, and the
    baselines' mean over all folds beside them."""
    w = snap.within
    main = w[(w.analysis == "main") & (w.split == split)
             & (w.ps_mode.isna() | (w.ps_mode == "train"))]
    net = _network(main)
    folds = sorted({int(f) for f in net.fold.dropna()})
    on = main[main.fold.isin(folds)]
    f = ", ".join(map(str, folds))
    header = (["animal"] + [f"{n}, fold {f}" for n, _ in BASELINES]
              + [f"network, fold {f}", "gap (SVC on W − network)"]
              + [f"{n}, all folds" for n, _ in BASELINES])
    rows, per = [], {n: [] for n, _ in [*BASELINES, ("network", "")]}
    for a in snap.order(main.session.dropna()):
        cells = []
        for n, m in BASELINES:
            g = on[(on.session == a) & (on.model == m)]
            cells.append(_spread(g))
            if a not in snap.null and len(g):
                per[n].append(g.accuracy.mean())
        g = _network(on[on.session == a])
        cells.append(_spread(g))
        if a not in snap.null and len(g):
            per["network"].append(g.accuracy.mean())
        ref = on[(on.session == a) & (on.model == "svc_w")].accuracy.mean()
        cells.append(f"{ref - g.accuracy.mean():+.3f}" if len(g) else "")
        cells += [_spread(main[(main.session == a) & (main.model == m)]) for _, m in BASELINES]
        rows.append([a + (" (null)" if a in snap.null else "")] + cells)
    mean = [f"{np.mean(per[n]):.3f}" if per[n] else "" for n, _ in BASELINES]
    net_mean = np.mean(per["network"]) if per["network"] else np.nan
    gap = np.mean(per["SVC on W"]) - net_mean if per["network"] else np.nan
    every = main[main.session.isin(snap.animals)]
    every = every.groupby(["model", "session"]).accuracy.mean().groupby("model").mean()
    rows.append([f"**mean of {len(snap.animals)}**"] + mean + [f"{net_mean:.3f}", f"{gap:+.3f}"]
                + [f"{every[m]:.3f}" if m in every else "" for _, m in BASELINES])
    return _table(header, rows)


def blank_table(snap: Snapshot) -> str:
    """The blank-presentation control beside the main decoders, mean over the animals."""
    s = snap.summary
    bc = s[(s.analysis == "blank_control") & s.session.isin(snap.animals)]
    main = snap.within[(snap.within.analysis == "main") & snap.within.session.isin(snap.animals)]
    rows = []
    for split in ("block", "trial"):
        for m, label in (("glm", "GLM"), ("svc", "SVC"), ("knn", "kNN")):
            b = bc[(bc.split == split) & (bc.model == m)]
            g = main[(main.split == split) & (main.model == m)]
            if len(b):
                rows.append([split, label,
                             f"{b.groupby('session').balanced_accuracy.mean().mean():.3f}",
                             f"{g.groupby('session').balanced_accuracy.mean().mean():.3f}"])
    return _table(["split", "decoder", f"blanks (mean of {len(snap.animals)} animals)",
                   "main (same animals)"], rows)


def cross_table(snap: Snapshot) -> str:
    s = snap.summary
    c = s[(s.task == "cross") & (s.control == "none") & (s.ps_mode == "train")
          & (s.analysis == "main")]
    rows = []
    for combo, g in c.groupby("combo"):
        net = g[g.inputs == "neural_image"]
        ref = g[g.model == "svc_w"]
        if not len(net):
            continue
        r = net.iloc[0]
        train, test = combo.split("__")
        null = " (null: the negative control)" if test in snap.null else ""
        rows.append([f"{train.replace('+', ' + ')} → {test}{null}", _spread(net),
                     f"{ref.accuracy.iloc[0]:.3f}" if len(ref) else "",
                     f"{ref.accuracy.iloc[0] - r.accuracy:+.3f}" if len(ref) else "",
                     str(int(r.n_test))])
    return _table(["train → test", "network (2 seeds)", "SVC on W", "gap", "test trials"], rows)


def blanks_main_table(snap: Snapshot) -> str:
    """Blanks through the main decoders: per split and decoder, the main balanced accuracy
    beside what the same fitted decoder gives its test blocks' blanks, mean over the animals
    with stimulus information, the paired test, and each null animal."""
    from nidecode.report.aggregate import blanks_through_main

    s = snap.summary
    if "blank_balanced_accuracy" not in s or s.blank_balanced_accuracy.isna().all():
        return "(no main decoder scored blanks in this snapshot)"
    rows = []
    for split in ("block", "trial"):
        t = blanks_through_main(s, split, snap.null)
        for r in t.itertuples():
            who = (f"{r.n_animals} animals" if r.group == "animals"
                   else f"{r.group.removeprefix('null ')} (null)")
            rows.append([split, r.model_label, who, f"{r.main:.3f}", f"{r.blanks:.3f}",
                         f"{r.difference:+.3f}",
                         "" if pd.isna(r.p_paired) else f"{r.p_paired:.2g}", str(r.n_blanks)])
    return _table(["split", "decoder", "animals", "main (balanced)", "its blanks (balanced)",
                   "main − blanks", "p (paired sign flip)", "blanks scored"], rows)


def transfer_table(snap: Snapshot) -> str:
    w = snap.within
    t = w[_kind(w) == "transfer"]
    if not len(t):
        return "(no transfer-learning rows in this run)"
    # The main network is the comparison's first arm (config.yaml runs no variant that would
    # train it again): its rows on the same animals, split, mode and folds.
    net = _network(w)
    net = net[net.session.isin(t.session) & net.fold.isin(t.fold) & net.split.isin(t.split)
              & net.ps_mode.isin(t.ps_mode)]
    net = net.assign(model_label=[
        model_name({**r, "analysis": "transfer-main"}) + ", the main network"
        for r in net.to_dict("records")])
    labels = sorted(net.model_label.unique()) + sorted(t.model_label.unique())
    t = pd.concat([net, t])
    rows = [[a] + [_spread(t[(t.session == a) & (t.model_label == m)]) for m in labels]
            for a in sorted(t.session.unique())]
    return _table(["animal", *labels], rows)


def groups_table(snap: Snapshot) -> str:
    g = snap.groups
    rows = []
    for r in g.itertuples():
        # A trained network's rows carry its backbone as model.
        model = (r.model if r.model in registered() else
                 f"network, {ARCH_NAMES.get(r.model, r.model)}")
        name = model + (f" ({r.ps_mode})" if isinstance(r.ps_mode, str) else "")
        rows.append([name, r.split, f"{r.group} ({r.n_sessions})",
                     f"{r.balanced_accuracy_mean:.3f}", f"{r.null_mean:.3f}",
                     f"{r.p_time_group:.2g}", r.method])
    return _table(["decoder", "split", "group", "mean balanced accuracy", "relabellings' mean",
                   "p (block relabelling)", "p computed"], rows)


def drift_control_table(snap: Snapshot) -> str:
    """The gabor-epoch drift control per animal: each decoder's mean balanced accuracy over
    folds, trial / block split, then the group test of the animals with stimulus information
    (and each null animal alone) per split."""
    s = snap.summary
    d = s[(s.analysis == "drift_control") & s.skipped.isna()]
    if not len(d):
        return "The drift control did not run in this snapshot."
    order = [m for m in ("glm", "svc", "knn") if m in set(d.model)]
    order += sorted(set(d.model) - set(order))
    label = {m: d[d.model == m].model_label.iloc[0] for m in order}
    mean = d.groupby(["session", "split", "model"]).balanced_accuracy.mean()
    animals = [a for a in [*snap.animals, *snap.null] if a in set(d.session)]
    rows = [[a + (" (null)" if a in snap.null else "")]
            + [f"{mean.get((a, 'trial', m), np.nan):.3f} / {mean.get((a, 'block', m), np.nan):.3f}"
               for m in order] for a in animals]
    g = snap.drift_groups
    if g is not None:
        for (split, group), gg in g.groupby(["split", "group"], sort=False):
            by = gg.set_index("model")
            rows.append([f"{group}, {split} split: mean (group p)"]
                        + [f"{by.balanced_accuracy_mean[m]:.3f} (p {by.p_time_group[m]:.2g})"
                           if m in by.index else "–" for m in order])
    return _table(["animal", *[f"{label[m]}: trial / block" for m in order]], rows)


def leak_table(snap: Snapshot, split: str = "block") -> str:
    rows = []
    for null in snap.null:
        d = snap.within[(snap.within.session == null) & (snap.within.split == split)]
        readout = {m: d[d.analysis == f"readout-{m}"] for m in ("train", "paper")}
        net = _network(d)
        svc = d[(d.model == "svc_w") & (d.analysis == "main")]
        rows += [
            [f"{null}: top-stimulus readout (class of the most over-weighted stimulus)"]
            + [f"{readout[m].accuracy.mean():.3f}" for m in ("train", "paper")],
            [f"{null}: how often that stimulus is the one shown"]
            + [f"{readout[m].own_stimulus_top_fraction.mean():.3f}" for m in ("train", "paper")],
            [f"{null}: the network"]
            + [f"{net[net.ps_mode == m].accuracy.mean():.3f}" for m in ("train", "paper")],
            [f"{null}: RBF SVC on W"]
            + [f"{svc[svc.ps_mode == m].accuracy.mean():.3f}" for m in ("train", "paper")]]
    return _table(["readout", "`train` mode (default)", "`paper` mode (published)"], rows)


def future_table(snap: Snapshot, split: str = "block") -> str:
    """Sub-classes, regions, arousal and unit counts: GLM balanced accuracy, mean over the
    animals, with how many animals and folds each analysis decoded."""
    s = snap.summary
    s = s[(s.model == "glm") & (s.split == split) & s.session.isin(snap.animals)]
    rows = []
    future = s[_kind(s).isin(FUTURE_WORK_KINDS)]
    for a in sorted(future.analysis.unique()):
        d = future[future.analysis == a]
        done = d[d.balanced_accuracy.notna()]
        chance = done.chance_balanced_accuracy.mean()
        rows.append([a, f"{done.groupby('session').balanced_accuracy.mean().mean():.3f}",
                     f"{chance:.3f}", f"{done.session.nunique()} of {d.session.nunique()}",
                     f"{len(done)} of {len(d)}"])
    return _table(["analysis", "balanced accuracy (GLM)", "chance", "animals decoded",
                   "folds decoded"], rows)


def benchmarks_table(snap: Snapshot) -> str:
    b = snap.benchmarks
    per = b.groupby("rule").agg(jobs=("s", "size"), total_s=("s", "sum"), mean_s=("s", "mean"),
                                peak_mb=("max_rss_mb", "max"))
    per = per.sort_values("total_s", ascending=False)
    rows = [[rule, str(int(r.jobs)), f"{r.total_s:,.0f}", f"{r.mean_s:.1f}",
             f"{r.peak_mb:,.0f}"] for rule, r in per.iterrows()]
    rows.append(["all", str(int(per.jobs.sum())), f"{per.total_s.sum():,.0f}", "", ""])
    return _table(["rule", "jobs", "total s", "mean s", "peak MB"], rows)


def _study_tables(snap: Snapshot) -> tuple[pd.DataFrame, pd.DataFrame]:
    from nidecode.studies.false_positives import group_table, rejection_table

    st = snap.study.copy()
    st["time_null_accuracies"] = [[float(v) for v in str(x).split()]
                                  for x in st.time_null_accuracies]
    return rejection_table(st), group_table(st)


def false_positive_table(snap: Snapshot) -> str:
    if snap.study is None:
        return "(no calibration study in this snapshot)"
    table, _ = _study_tables(snap)

    def cell(r: dict, alpha: float) -> str:
        return "cannot reject" if r["floor"] > alpha else f"{r[f'rejected_at_{alpha:g}']:.3f}"

    rows = [[r["sessions"], r["split"], r["decoder"], r["test"], f"{r['floor']:.2g}",
             cell(r, 0.05), cell(r, 0.1), f"{r['mean_accuracy']:.3f}",
             "" if pd.isna(r.get("relabelling_mean")) else f"{r['relabelling_mean']:.3f}"]
            for r in table.to_dict("records")]
    return _table(["sessions", "split", "decoder", "test", "floor", "rejected at α = 0.05",
                   "at α = 0.1", "mean accuracy", "relabellings' mean"], rows)


def group_calibration_table(snap: Snapshot) -> str:
    if snap.study is None:
        return "(no calibration study in this snapshot)"
    _, groups = _study_tables(snap)
    rows = [[r["sessions"], r["split"], r["decoder"], str(r["n_groups"]), f"{r['floor']:.0e}",
             f"{r['rejected_at_0.05']:.2f}", f"{r['rejected_at_0.1']:.2f}",
             f"{r['smallest_p']:.2g}", f"{r['median_p']:.2g}"]
            for r in groups.to_dict("records")]
    return _table(["groups of nine", "split", "decoder", "groups", "floor",
                   "rejected at α = 0.05", "at α = 0.1", "smallest p", "median p"], rows)


def study_line(snap: Snapshot) -> str:
    if snap.study is None:
        return "(no calibration study in this snapshot)"
    st = snap.study
    r = snap.run.get("study", {})
    return (f"Study `{r.get('name', '?')}`: `{r.get('command', '?')}` at commit "
            f"{r.get('commit', '?')} ({r.get('wall', '?')}): "
            f"{int(st[st.stimulus_blind].session.nunique())} stimulus-blind sessions and "
            f"{int(st[~st.stimulus_blind].session.nunique())} with stimulus information, each "
            "with its own seed, on Allen's clock.")


def _decoder_rows(snap: Snapshot, split: str = "block") -> list[dict]:
    from nidecode.report.aggregate import decoder_comparison

    return decoder_comparison(snap.summary, snap.groups, snap.null, split)


def decoders_table(snap: Snapshot) -> str:
    """One row per decoder: the README's results table."""
    rows = _decoder_rows(snap)
    net = snap.within[(snap.within.inputs == "neural_image") & (snap.within.analysis == "main")]
    folds = ", ".join(map(str, sorted({int(f) for f in net.fold.dropna()}))) or "0"
    n = len(snap.animals)

    def f(x: float, fmt: str = ".3f") -> str:
        return "–" if pd.isna(x) else format(x, fmt)

    body = [[r["label"], f(r["same"]), f(r["all"]) + ("" if r["n_folds"] > 1 else " (fold 0)"),
             f(r["cross"]), "not tested" if pd.isna(r["p_group"]) else f(r["p_group"], ".2g"),
             f"{f(r['null_block'])} / {f(r['null_trial'])}"] for r in rows]
    return _table(["decoder", f"within animal, fold {folds} (same trials)",
                   "within animal, all folds", "across animals",
                   f"time-respecting test across the {n} animals (p)",
                   f"null animal{'s' if len(snap.null) > 1 else ''}, block / trial split"],
                  body)


def verdict(snap: Snapshot) -> str:
    """The answer of the run in one sentence (block split, like for like)."""
    from nidecode.report.sentences import verdict as run_verdict

    return run_verdict(snap.summary, snap.groups, snap.null, "block")


# The calibration study's real arm (benchmarks/studies/false_positives.py --real): its records and
# its run (name, command, commit, date, wall time), copied into docs/run/ by hand.
REAL_ARM = "false_positives_real.csv"
REAL_ARM_RUN = "false_positives_real.json"


def real_arm_records(snap: Snapshot) -> pd.DataFrame | None:
    """The real arm's per-session records in ``docs/run/``, or None where it has none."""
    path = snap.folder / REAL_ARM
    if not path.exists():
        return None
    r = pd.read_csv(path)
    r["time_null_accuracies"] = [[float(v) for v in str(x).split()] if isinstance(x, str)
                                 else [] for x in r.time_null_accuracies]
    return r


def real_arm_table(snap: Snapshot) -> str:
    """The real arm's run line, rejection table and group table (32 real Allen sessions)."""
    from nidecode.studies.false_positives import real_arm_markdown

    records = real_arm_records(snap)
    if records is None:
        return "(no real arm in this snapshot)"
    run = json.loads((snap.folder / REAL_ARM_RUN).read_text())
    line = (f"Real arm `{run['name']}`: `{run['command']}` at commit {run['commit']} "
            f"({run['date']}, {run['wall']}): {records.session.nunique()} sessions.")
    return line + "\n\n" + real_arm_markdown(records)


# The calibration study's cross-animal arm (benchmarks/studies/false_positives.py --cross): its
# records and its run, copied into docs/run/ by hand as the real arm's are.
CROSS_ARM = "false_positives_cross.csv"
CROSS_ARM_RUN = "false_positives_cross.json"


def hand_copied(snap: Snapshot, records: str, run: str
                ) -> tuple[pd.DataFrame, dict] | None:
    """A study copied into ``docs/run/`` by hand: its records (CSV) and its run line's fields
    (JSON: name, command, commit, date, wall), or None where the snapshot has none."""
    path = snap.folder / records
    if not path.exists():
        return None
    return pd.read_csv(path), json.loads((snap.folder / run).read_text())


def _run_line(what: str, run: dict) -> str:
    return (f"{what} `{run['name']}`: `{run['command']}` at commit {run['commit']} "
            f"({run['date']}, {run['wall']}).")


def cross_arm_table(snap: Snapshot) -> str:
    """The cross-animal arm's run line and rejection table."""
    from nidecode.studies.false_positives import rejection_table

    found = hand_copied(snap, CROSS_ARM, CROSS_ARM_RUN)
    if found is None:
        return "(no cross-animal arm in this snapshot)"
    records, run = found
    records["time_null_accuracies"] = [[] for _ in range(len(records))]
    rows = [[r["sessions"], r["decoder"], r["test"], str(r["n_sessions"]),
             "cannot reject" if r["floor"] > 0.05 else f"{r['rejected_at_0.05']:.3f}",
             "cannot reject" if r["floor"] > 0.1 else f"{r['rejected_at_0.1']:.3f}",
             f"{r['mean_accuracy']:.3f}"]
            for r in rejection_table(records).to_dict("records")]
    header = ["test animals", "decoder", "test", "test animals (n)", "rejected at α = 0.05",
              "at α = 0.1", "mean accuracy"]
    return _run_line("Cross-animal arm", run) + "\n\n" + _table(header, rows)


# The calibration study at Allen's 50 repeats (benchmarks/studies/false_positives.py --main-settings
# --repeats 50): records and run, copied into docs/run/ by hand.
STUDY_50 = "false_positives_50.csv"
STUDY_50_RUN = "false_positives_50.json"


def _hand_copied_study(snap: Snapshot, records: str, run: str, what: str) -> str:
    """A hand-copied run of the calibration study: its run line, per-session rejection table
    and group table, in the calibration study's columns."""
    import copy

    found = hand_copied(snap, records, run)
    if found is None:
        return f"(no {what} in this snapshot)"
    as_study = copy.copy(snap)
    as_study.study, line = found
    return "\n\n".join([_run_line("Study", line), false_positive_table(as_study),
                         group_calibration_table(as_study)])


def study_50_table(snap: Snapshot) -> str:
    """The 50-repeat study (:func:`_hand_copied_study`)."""
    return _hand_copied_study(snap, STUDY_50, STUDY_50_RUN, "50-repeat study")


# The network's block-relabelling null in the calibration study (benchmarks/studies/
# false_positives.py --decoders network --main-settings): records and run, copied by hand.
STUDY_NETWORK = "false_positives_network.csv"
STUDY_NETWORK_RUN = "false_positives_network.json"


def study_network_table(snap: Snapshot) -> str:
    """The network's calibration study (:func:`_hand_copied_study`)."""
    return _hand_copied_study(snap, STUDY_NETWORK, STUDY_NETWORK_RUN, "network study")


# Power on real drift (benchmarks/studies/real_power.py --record): its table and run, written
# into docs/run/ by the benchmark; a second run (other decoders) beside the first.
REAL_POWER = (("real_power.csv", "real_power.json"),
              ("real_power_svc.csv", "real_power_svc.json"))


def real_power_table(snap: Snapshot, which: int = 0) -> str:
    """A power run's line and its table (:func:`nidecode.studies.power.power_markdown`)."""
    from nidecode.studies.power import power_markdown

    found = hand_copied(snap, *REAL_POWER[which])
    if found is None:
        return "(no power run in this snapshot)"
    table, run = found
    return (_run_line("Power run", run) + f" {run['real_sessions']} real and "
            f"{run['simulated_sessions']} simulated sessions, {run['fraction']:g} of the units "
            "injected.\n\n" + power_markdown(table))


RENDERERS: dict[str, Callable[[Snapshot], str]] = {
    "decoders": decoders_table, "verdict": verdict,
    "run": run_line, "within": within_table, "null": null_table,
    "like_for_like": like_for_like_table, "blank": blank_table, "cross": cross_table,
    "blanks_main": blanks_main_table,
    "drift_control": drift_control_table,
    "transfer": transfer_table, "groups": groups_table, "leak": leak_table,
    "future": future_table, "benchmarks": benchmarks_table,
    "false_positives": false_positive_table, "group_calibration": group_calibration_table,
    "study": study_line, "real_arm": real_arm_table, "cross_arm": cross_arm_table,
    "study_50": study_50_table, "study_network": study_network_table,
    "real_power": real_power_table,
    "real_power_svc": lambda snap: real_power_table(snap, 1),
}


def render(snap: Snapshot) -> dict[str, str]:
    """Every named block, rendered from the snapshot."""
    return {name: f(snap) for name, f in RENDERERS.items()}


def fill(text: str, blocks: dict[str, str], where: str = "doc") -> str:
    """``text`` with every ``<!-- run-table: NAME -->`` ... ``<!-- /run-table -->`` block
    replaced by ``blocks[NAME]``."""
    out, pos = [], 0
    for m in BEGIN.finditer(text):
        if m.start() < pos:
            continue
        name = m.group(1)
        if name not in blocks:
            raise KeyError(f"{where}: unknown run-table '{name}'; known: {sorted(blocks)}")
        end = text.find(END, m.end())
        if end < 0:
            raise ValueError(f"{where}: run-table '{name}' has no closing {END}")
        out += [text[pos:m.end()], blocks[name].rstrip("\n") + "\n"]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _outside_blocks(text: str) -> str:
    return re.sub(r"<!-- run-table: [a-z_]+ -->\n.*?<!-- /run-table -->", "", text,
                  flags=re.S)


def _forms(x: float) -> set[str]:
    out = set()
    for d in (2, 3, 4):
        v = round(x, d)
        out |= {f"{v:.{d}f}", f"{abs(v):.{d}f}"}
    out |= {f"{x:.2g}", f"{x:.1e}", f"{x:.0e}", f"{x:.1g}"}
    return out


# Numbers a doc may state that are not results: the conventional significance level.
CONSTANTS = {"0.05"}


def allowed_numbers(snap: Snapshot, blocks: dict[str, str], settings: tuple[str, ...] = ()
                    ) -> set[str]:
    """Every number the snapshot's tables hold (at 2–4 decimals and as p-values print), every
    number its generated blocks state, the numbers of the ``settings`` texts (the shipped
    configs: a doc may quote a setting) and :data:`CONSTANTS`."""
    allowed: set[str] = set(CONSTANTS)
    for text in settings:
        allowed |= {_norm(n) for n in NUMBER.findall(text)}
    frames = [snap.summary, snap.retention, snap.groups, snap.benchmarks]
    if snap.drift_groups is not None:
        frames.append(snap.drift_groups)
    if snap.study is not None:
        frames.append(snap.study)
    if (real := real_arm_records(snap)) is not None:
        frames.append(real)
    for records, run in ((CROSS_ARM, CROSS_ARM_RUN), (STUDY_50, STUDY_50_RUN), *REAL_POWER):
        if (found := hand_copied(snap, records, run)) is not None:
            frames.append(found[0])
    for f in frames:
        vals = f.select_dtypes("number").to_numpy().ravel()
        for v in vals[np.isfinite(vals)]:
            allowed |= _forms(float(v))
    for b in blocks.values():
        allowed |= {_norm(n) for n in NUMBER.findall(b)}
    return allowed


def _norm(n: str) -> str:
    return n.replace("−", "-").lstrip("+-")


def unsourced_numbers(text: str, allowed: set[str]) -> list[str]:
    """The numbers ``text`` states outside its generated blocks that ``allowed`` lacks."""
    found = NUMBER.findall(_outside_blocks(text))
    return [n for n in found if _norm(n) not in allowed]
