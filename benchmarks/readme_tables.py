"""Markdown tables of a finished run (results/summary.csv, benchmarks.csv, group_tests.csv),
as the README and docs/how-to-read-results.md quote them.

    .venv/bin/python benchmarks/readme_tables.py [results]
"""

import sys
from pathlib import Path

import pandas as pd


def spread(g: pd.DataFrame) -> str:
    """Mean over folds (and seeds), with the SD over folds or, for one fold, over seeds."""
    if not len(g):
        return ""
    m = g.accuracy.mean()
    if len(g) > 1:
        return f"{m:.3f} ± {g.accuracy.std(ddof=1):.3f}"
    sd = g.seed_accuracy_sd.iloc[0]
    return f"{m:.3f} ± {sd:.3f}" if pd.notna(sd) else f"{m:.3f}"


def main(results: Path) -> None:
    s = pd.read_csv(results / "summary.csv")
    w = s[(s.task == "within") & (s.control == "none")]
    cols = [("GLM", "main", "block"), ("GLM", "main", "trial"),
            ("DNN (train)", "main", "block"), ("DNN (train)", "main", "trial"),
            ("DNN (paper)", "main", "block"), ("DNN (paper)", "main", "trial"),
            ("top-stimulus readout (train)", "probe-train", "block"),
            ("top-stimulus readout (paper)", "probe-paper", "block")]
    print("| animal | " + " | ".join(f"{m} {a.split('-')[0] if a != 'main' else ''} {sp}"
                                     .replace("  ", " ") for m, a, sp in cols)
          + " | which block? (GLM) | blanks (GLM, block) | p_time (GLM, block) |")
    print("|" + " --- |" * (len(cols) + 4))
    blanks = s[(s.analysis == "blank_control") & (s.model == "glm")]
    for session in sorted(w.session.dropna().unique()):
        cells = []
        for m, a, sp in cols:
            g = w[(w.session == session) & (w.model_label == m) & (w.analysis == a)
                  & (w.split == sp) & (w.inputs.astype(str) != "raster")]
            cells.append(spread(g) if len(g) else "")
        conf = w[(w.session == session) & w.analysis.astype(str).str.startswith("time-")]
        glm = w[(w.session == session) & (w.model == "glm") & (w.analysis == "main")
                & (w.split == "block")]
        blank = blanks[(blanks.session == session) & (blanks.split == "block")]
        print(f"| {session} | " + " | ".join(cells)
              + f" | {conf.accuracy.mean():.3f} | {blank.balanced_accuracy.mean():.3f}"
              f" | {glm.p_time.iloc[0]:.1f} |")
    print()
    # The null animal(s): every decoder, both splits, both preferred-stimulus modes.
    for null in sorted(s[s.session.astype(str).str.startswith("N")].session.dropna().unique()):
        n = w[(w.session == null) & w.analysis.isin(["main", "probe-train", "probe-paper"])
              & (w.inputs.astype(str) != "raster")]
        rows = [("GLM", "glm", None), ("SVC", "svc", None), ("kNN", "knn", None),
                ("SVC on W", "svc_w", "train"), ("SVC on W", "svc_w", "paper"),
                ("network", "efficientnet_lite0", "train"),
                ("network", "efficientnet_lite0", "paper"),
                ("top-stimulus readout", "probe", "train"), ("top-stimulus readout", "probe",
                                                             "paper")]
        print(f"| {null}: decoder | mode | block split | trial split |\n| --- | --- | --- | --- |")
        for label, model, mode in rows:
            g = n[(n.model == model) & ((n.ps_mode == mode) if mode else True)]
            print(f"| {label} | {mode or '–'} | {spread(g[g.split == 'block'])} | "
                  f"{spread(g[g.split == 'trial'])} |")
        print()
    # The blank-presentation control: mean over the stimulus-carrying animals.
    animals = [a for a in w.session.dropna().unique() if not str(a).startswith("N")]
    bc = s[(s.analysis == "blank_control") & s.session.isin(animals)]
    main_glm = w[(w.model == "glm") & (w.analysis == "main") & w.session.isin(animals)]
    for split, g in bc.groupby("split"):
        per = g.groupby("model").balanced_accuracy.mean()
        print(f"blank control, {split} split (mean over {len(animals)} animals): "
              + ", ".join(f"{m} {v:.3f}" for m, v in per.items())
              + f"; main GLM {main_glm[main_glm.split == split].balanced_accuracy.mean():.3f}")
    print()
    # Baselines and information retention, main split, train mode.
    split = "block"
    kept = pd.read_csv(results / "retention.csv")
    kept = kept[(kept.split == split) & (kept.ps_mode == "train")]
    base = [("GLM", "GLM"), ("SVC", "SVC"), ("kNN", "kNN"), ("SVC on W", "SVC on W (train)"),
            ("network", "DNN (train)")]
    print(f"| animal ({split} split) | " + " | ".join(n for n, _ in base)
          + " | gap on fold 0 (SVC on W - network) |")
    print("|" + " --- |" * (len(base) + 2))
    for session in sorted(w.session.dropna().unique()):
        cells = [spread(w[(w.session == session) & (w.model_label == m) & (w.analysis == "main")
                          & (w.split == split)]) or "" for _, m in base]
        gap = kept[(kept.task == "within") & (kept.unit == session)].gap
        print(f"| {session} | " + " | ".join(cells)
              + (f" | {gap.mean():+.3f} |" if len(gap) else " | |"))
    main = w[(w.analysis == "main") & (w.split == split) & w.session.isin(animals)]
    print("mean over " + ", ".join(sorted(animals)) + ": " + ", ".join(
        f"{n} {main[main.model_label == m].groupby('session').accuracy.mean().mean():.3f}"
        for n, m in base))
    print()
    c = s[(s.task == "cross") & (s.control == "none") & (s.ps_mode == "train")]
    print("| combo | network (train), block calibration | SVC on W | gap | n_test |\n"
          "| --- | --- | --- | --- | --- |")
    for combo, g in c.groupby("combo"):
        net = g[g.inputs == "neural_image"]
        ref = g[g.model == "svc_w"]
        if not len(net):
            continue
        r = net.iloc[0]
        sd = f" ± {r.seed_accuracy_sd:.3f}" if pd.notna(r.seed_accuracy_sd) else ""
        svc = f"{ref.accuracy.iloc[0]:.3f}" if len(ref) else ""
        gap = f"{ref.accuracy.iloc[0] - r.accuracy:+.3f}" if len(ref) else ""
        print(f"| {combo} | {r.accuracy:.3f}{sd} | {svc} | {gap} | {int(r.n_test)} |")
    print()
    t = w[w.analysis.astype(str).str.startswith("transfer-")]
    if len(t):
        print("| animal | " + " | ".join(sorted(t.model_label.unique())) + " |")
        print("|" + " --- |" * (len(t.model_label.unique()) + 1))
        for session in sorted(t.session.unique()):
            cells = [spread(t[(t.session == session) & (t.model_label == m)])
                     for m in sorted(t.model_label.unique())]
            print(f"| {session} | " + " | ".join(cells) + " |")
        print()
    g = pd.read_csv(results / "group_tests.csv")
    print("| decoder | split | group | mean balanced accuracy | null mean | "
          "p (block relabelling) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in g.itertuples():
        name = r.model + (f" ({r.ps_mode})" if isinstance(r.ps_mode, str) else "")
        print(f"| {name} | {r.split} | {r.group} ({r.n_sessions}) | "
              f"{r.balanced_accuracy_mean:.3f} | {r.null_mean:.3f} | {r.p_time_group:.2g} |")
    print()
    b = pd.read_csv(results / "benchmarks.csv")
    per = b.groupby("rule").agg(jobs=("s", "size"), total_s=("s", "sum"),
                                mean_s=("s", "mean"), peak_mb=("max_rss_mb", "max"))
    per = per.sort_values("total_s", ascending=False).round(1)
    print("| rule | jobs | total s | mean s | peak MB |\n| --- | --- | --- | --- | --- |")
    for rule, r in per.iterrows():
        print(f"| {rule} | {int(r.jobs)} | {r.total_s:,.0f} | {r.mean_s:.1f} | {r.peak_mb:,.0f} |")
    print(f"| all | {int(per.jobs.sum())} | {per.total_s.sum():,.0f} | | |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "results"))
