"""The paper's figures, drawn with seaborn from the workflow's outputs.

Each function takes labelled data and a path, writes one PNG and returns nothing. Titles say
when data are simulated.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import xarray as xr  # noqa: E402

from .neural_images import preferred_stimuli  # noqa: E402

CLASS_PALETTE = {"natural": "#2a9d8f", "artificial": "#e76f51"}


def _tag(ds: xr.Dataset) -> str:
    return " (SIMULATED data)" if ds.attrs.get("source") == "simulated" else ""


def _save(fig: plt.Figure, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def raster_figure(ds: xr.Dataset, path: str | Path) -> None:
    """Fig. 1: responses of every unit to every natural-scene trial, trials sorted by scene."""
    # isel, not where: where would broadcast the presentation mask onto the blank variables.
    scenes = ds.isel(presentation=np.flatnonzero(ds.stimulus_name.values == "natural_scenes"))
    order = np.argsort(scenes.frame.values, kind="stable")
    r = scenes.response.values[order].T
    fig, ax = plt.subplots(figsize=(10, 4))
    sns.heatmap(r, ax=ax, cmap="magma", vmin=-1, vmax=4, cbar_kws={"label": "response (z)"},
                xticklabels=False, yticklabels=False)
    ax.set_xlabel(f"natural-scene trials, sorted by scene (n = {r.shape[1]})")
    ax.set_ylabel(f"units (n = {r.shape[0]})")
    ax.set_title(f"{ds.attrs['animal']}: baseline-subtracted responses to natural scenes"
                 f"{_tag(ds)}")
    _save(fig, path)


def example_units_figure(ds: xr.Dataset, path: str | Path, n_units: int = 3) -> None:
    """Fig. 2a: example units' mean time courses for four stimuli of each class."""
    var = ds.response.var("presentation").values
    units = np.argsort(var)[::-1][:n_units]
    idx = ds.stimulus_index.values
    cls = ds.stimulus_class.values
    picks = {c: list(dict.fromkeys(idx[cls == c]))[:4] for c in ("natural", "artificial")}
    fig, axes = plt.subplots(1, n_units, figsize=(4 * n_units, 3), sharey=False)
    for ax, u in zip(np.atleast_1d(axes), units, strict=False):
        for c, stims in picks.items():
            for k, s in enumerate(stims):
                trials = idx == s
                if "counts" in ds:
                    bin_s = float(ds.time_bin.values[1] - ds.time_bin.values[0])
                    y = ds.counts.values[trials, :, u].mean(0) / bin_s
                    ax.plot(ds.time_bin.values * 1000, y, color=CLASS_PALETTE[c],
                            alpha=0.5 + 0.12 * k, label=c if k == 0 else None)
                else:
                    ax.bar(f"{c[0]}{k}", ds.rate.values[trials, u].mean(), color=CLASS_PALETTE[c])
        ax.set_title(f"unit {int(ds.unit_id.values[u])}")
        ax.set_xlabel("time from onset (ms)" if "counts" in ds else "stimulus")
        ax.set_ylabel("rate (Hz)")
    np.atleast_1d(axes)[0].legend(frameon=False)
    fig.suptitle(f"{ds.attrs['animal']}: example units, 4 natural scenes and 4 gratings{_tag(ds)}")
    _save(fig, path)


def pca_responses_figure(ds: xr.Dataset, path: str | Path) -> None:
    """Fig. 2b: PCA of population responses, coloured by stimulus class."""
    from sklearn.decomposition import PCA

    z = PCA(2, random_state=0).fit_transform(ds.response.values)
    fig, ax = plt.subplots(figsize=(5, 4))
    sns.scatterplot(x=z[:, 0], y=z[:, 1], hue=ds.stimulus_class.values, palette=CLASS_PALETTE,
                    s=8, alpha=0.6, ax=ax, linewidth=0)
    ax.set(xlabel="PC 1", ylabel="PC 2",
           title=f"{ds.attrs['animal']}: population responses{_tag(ds)}")
    _save(fig, path)


def preferred_stimuli_figure(ds: xr.Dataset, stimuli: xr.Dataset, path: str | Path,
                             n_units: int = 8) -> None:
    """Fig. 3: example preferred stimuli (stimuli weighted by each unit's responses)."""
    var = ds.response.var("presentation").values
    units = np.argsort(var)[::-1][:n_units]
    ps = preferred_stimuli(ds.response.values[:, units], ds.stimulus_index.values,
                           stimuli.image.values)
    fig, axes = plt.subplots(2, n_units // 2, figsize=(2.4 * n_units // 2, 3.6))
    for ax, img, u in zip(axes.ravel(), ps, units, strict=True):
        lim = np.abs(img).max()
        ax.imshow(img, cmap="gray", vmin=-lim, vmax=lim)
        ax.set_title(f"unit {int(ds.unit_id.values[u])}", fontsize=8)
        ax.axis("off")
    fig.suptitle(f"{ds.attrs['animal']}: preferred stimuli (all trials){_tag(ds)}")
    _save(fig, path)


def neural_images_figure(weights: xr.Dataset, stimuli: xr.Dataset, path: str | Path,
                         per_class: int = 4) -> None:
    """Fig. 5: test-trial stimuli beside their neural images (fold 0, W @ U)."""
    names = json.loads(weights.attrs["label_names"])
    test = ~weights.train.values[0]
    rows = []
    for k, _ in enumerate(names):
        rows += list(np.flatnonzero(test & (weights.label.values == k))[:per_class])
    u = stimuli.image.values
    fig, axes = plt.subplots(2, len(rows), figsize=(1.6 * len(rows), 2.6))
    for j, t in enumerate(rows):
        s = int(weights.stimulus_index.values[t])
        img = (weights.W.values[0, t] @ u.reshape(len(u), -1)).reshape(u.shape[1:])
        axes[0, j].imshow(u[s], cmap="gray", vmin=0, vmax=1)
        axes[1, j].imshow(img, cmap="gray")
        axes[0, j].set_title(names[weights.label.values[t]], fontsize=8)
        for a in axes[:, j]:
            a.axis("off")
    axes[0, 0].text(-0.1, 0.5, "stimulus", transform=axes[0, 0].transAxes, ha="right",
                    va="center", rotation=90)
    axes[1, 0].text(-0.1, 0.5, "neural image", transform=axes[1, 0].transAxes, ha="right",
                    va="center", rotation=90)
    fig.suptitle(f"{weights.attrs['animal']}: stimuli and neural images of test trials "
                 f"({weights.attrs['ps_mode']} mode){_tag(weights)}")
    _save(fig, path)


def within_figure(summary: pd.DataFrame, path: str | Path) -> None:
    """Fig. 6a: within-animal accuracy per animal, GLM vs DNN (bars: mean, dots: folds).

    Every decoder on the folds the network ran (like for like). Error bars: mean of the folds'
    95 % Wilson intervals, which assume independent trials.
    """
    df = _main(summary)
    df = df[df.task == "within"]
    net_folds = sorted({int(f) for f in df[df.inputs == "neural_image"].fold.dropna()})
    if net_folds:
        df = df[df.fold.isin(net_folds)]
    order = sorted(df.session.unique())
    hue_order = sorted(df.model_label.unique())
    fig, ax = plt.subplots(figsize=(max(6, len(order) * 1.2), 4))
    sns.barplot(df, x="session", y="accuracy", hue="model_label", order=order,
                hue_order=hue_order, ax=ax, errorbar=None, alpha=0.8)
    sns.stripplot(df, x="session", y="accuracy", hue="model_label", order=order,
                  hue_order=hue_order, ax=ax, dodge=True, color="k", size=3, legend=False)
    means = df.groupby(["session", "model_label"])[["accuracy", "ci95_low", "ci95_high"]].mean()
    for bar_group, label in zip(ax.containers, hue_order, strict=False):
        for bar, session in zip(bar_group, order, strict=False):
            if (session, label) in means.index:
                m = means.loc[(session, label)]
                x = bar.get_x() + bar.get_width() / 2
                ax.plot([x, x], [m.ci95_low, m.ci95_high], color="k", lw=1)
    ax.axhline(0.5, color="grey", ls="--", lw=1)
    folds = ("" if not net_folds else " (fold" + ("s " if len(net_folds) > 1 else " ")
             + ", ".join(map(str, net_folds)) + ", the network's)")
    ax.set(ylim=(0.3, 1.0), ylabel="test accuracy (95 % Wilson, indep. trials)",
           xlabel="animal",
           title="Within-animal decoding: natural vs artificial" + folds + _source_tag(df))
    ax.legend(title=None, frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _save(fig, path)


def _main(summary: pd.DataFrame) -> pd.DataFrame:
    """Main-analysis jobs (no control, no future-work analysis)."""
    return summary[(summary.analysis == "main") & (summary.control == "none")]


def controls_figure(summary: pd.DataFrame, null_sessions: list[str], path: str | Path) -> None:
    """Leakage and controls: the null animal in both modes, shuffles, GLM permutation p."""
    df = summary[summary.task == "within"].copy()
    df["condition"] = df.model_label + np.where(df.control == "none", "",
                                                " / " + df.control.astype(str))
    null = df[df.session.isin(null_sessions) & (df.control == "none")
              & ((df.analysis == "main") | df.analysis.astype(str).str.startswith("probe-"))]
    ctrl_sessions = sorted(df[df.control != "none"].session.dropna().unique())
    ctrl = df[df.session.isin(ctrl_sessions) & (df.analysis == "main")
              & (df.inputs == "neural_image")]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, data, title in ((axes[0], null, f"null animal {', '.join(null_sessions)}: "
                             "units carry no stimulus information"),
                            (axes[1], ctrl, f"controls in {', '.join(ctrl_sessions)}")):
        if len(data):
            order = sorted(data.condition.unique())
            sns.barplot(data, y="condition", x="accuracy", order=order, ax=ax, errorbar=None,
                        color="#8ab17d")
            sns.stripplot(data, y="condition", x="accuracy", order=order, ax=ax, color="k",
                          size=4)
            for i, c in enumerate(order):
                d = data[data.condition == c]
                ax.plot([d.ci95_low.mean(), d.ci95_high.mean()], [i, i], color="k", lw=1.5)
        ax.axvline(0.5, color="grey", ls="--", lw=1)
        ax.set(xlim=(0.3, 1.0), xlabel="test accuracy (95 % Wilson, indep. trials)", ylabel="",
               title=title)
    fig.suptitle("Leakage and controls" + _source_tag(df))
    _save(fig, path)


def analyses_figure(summary: pd.DataFrame, prefix: str, path: str | Path, title: str) -> None:
    """Future-work analyses (sub-classes, regions, arousal): balanced accuracy per animal."""
    df = summary[summary.analysis.astype(str).str.startswith(prefix)
                 & summary.accuracy.notna()].copy()
    if prefix == "areas-":  # the main analysis' area joins the comparison
        main = _main(summary)
        main = main[(main.task == "within") & (main.model == "glm")].copy()
        main["analysis"] = "areas-" + main.areas_used.astype(str) + " (main)"
        df = pd.concat([main, df[df.model == "glm"]])
    fig, ax = plt.subplots(figsize=(10, 4))
    if len(df):
        df["name"] = df.analysis.str.replace(prefix, "", regex=False) + " " + df.model_label
        sns.barplot(df, x="session", y="balanced_accuracy", hue="name", ax=ax, errorbar="sd",
                    order=sorted(df.session.unique()))
        chance = df.groupby("name").chance_balanced_accuracy.mean()
        for c in sorted(set(chance.round(3))):
            ax.axhline(c, color="grey", ls="--", lw=1)
        ax.legend(title=None, frameon=False, fontsize=7, ncol=2)
    ax.set(ylim=(0, 1.0), ylabel="balanced accuracy (SD over folds)", xlabel="animal",
           title=title + _source_tag(df))
    _save(fig, path)


def unit_count_figure(summary: pd.DataFrame, path: str | Path) -> None:
    """Accuracy against the number of units (random subsets), GLM and DNN."""
    df = summary[summary.analysis.astype(str).str.startswith("units-")
                 & summary.accuracy.notna()].copy()
    fig, ax = plt.subplots(figsize=(6, 4))
    if len(df):
        df["n_units_used"] = df.analysis.str.split("-").str[1].astype(int)
        sns.lineplot(df, x="n_units_used", y="accuracy", hue="model_label", marker="o",
                     errorbar="sd", ax=ax)
        ax.set_xscale("log")
    ax.axhline(0.5, color="grey", ls="--", lw=1)
    ax.set(xlabel="units (random subsets)", ylabel="test accuracy (mean ± SD)",
           title="Accuracy vs number of units" + _source_tag(df))
    _save(fig, path)


def cross_figure(summary: pd.DataFrame, path: str | Path) -> None:
    """Fig. 6b: cross-animal combos in ascending order of accuracy (95 % Wilson intervals,
    which assume independent trials)."""
    df = _main(summary)
    df = df[df.task == "cross"].sort_values("accuracy")
    fig, ax = plt.subplots(figsize=(6, 0.4 * max(len(df), 3) + 1))
    if len(df):
        labels = [f"{c} ({m})" for c, m in zip(df.combo, df.model_label, strict=True)]
        models = sorted(df.model_label.unique())
        colour = dict(zip(models, sns.color_palette("colorblind", len(models)), strict=True))
        ax.barh(labels, df.accuracy, color=[colour[m] for m in df.model_label],
                xerr=[df.accuracy - df.ci95_low, df.ci95_high - df.accuracy])
        ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=colour[m]) for m in models],
                  labels=models, frameon=False, fontsize=8, loc="lower right")
        ax.axvline(0.5, color="grey", ls="--", lw=1)
    ax.set(xlim=(0.3, 1.0), xlabel="test accuracy (95 % Wilson, indep. trials)",
           title="Across animals: TRAIN__TEST" + _source_tag(df))
    _save(fig, path)


def embeddings_figure(test_weights: dict[str, xr.Dataset], summary: pd.DataFrame,
                      stimuli: xr.Dataset, path: str | Path, max_trials: int = 800) -> None:
    """Fig. 7: PCA and t-SNE of neural images for the best and the worst combo."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    cross = _main(summary)
    cross = cross[cross.task == "cross"].sort_values("accuracy")
    fig, axes = plt.subplots(2, 2, figsize=(9, 8))
    if not len(cross):
        fig.text(0.5, 0.5, "no cross-animal combos configured", ha="center")
        _save(fig, path)
        return
    picks = [("worst", cross.iloc[0]), ("best", cross.iloc[-1])]
    u = stimuli.image.values.reshape(stimuli.sizes["stimulus"], -1)
    for row, (tag, rec) in enumerate(picks):
        w = test_weights[f"{rec.ps_mode}/{rec.combo}"]
        names = json.loads(w.attrs["label_names"])
        rng = np.random.default_rng(0)
        sel = np.sort(rng.permutation(w.sizes["trial"])[:max_trials])
        images = w.W.values[sel] @ u
        images = (images - images.mean(1, keepdims=True)) / (images.std(1, keepdims=True) + 1e-9)
        labels = np.array(names)[w.label.values[sel]]
        pca = PCA(2, random_state=0).fit_transform(images)
        tsne = TSNE(2, random_state=0, init="pca",
                    perplexity=min(30, len(sel) // 4)).fit_transform(PCA(30).fit_transform(images))
        for col, (z, method) in enumerate(((pca, "PCA"), (tsne, "t-SNE"))):
            ax = axes[row, col]
            sns.scatterplot(x=z[:, 0], y=z[:, 1], hue=labels, palette=CLASS_PALETTE, s=8,
                            alpha=0.6, ax=ax, linewidth=0, legend=col == 0 and row == 0)
            ax.set_title(f"{tag}: {rec.combo} (acc {rec.accuracy:.2f}) — {method}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("Neural images of the test animal" + _source_tag(cross))
    _save(fig, path)


def _source_tag(df: pd.DataFrame) -> str:
    return " (SIMULATED data)" if "simulated" in set(df.get("source", [])) else ""


def time_confound_figure(summary: pd.DataFrame, null_sessions: list[str],
                         path: str | Path) -> None:
    """Trial vs block split per animal (GLM, readout, GoogLeNet), and the time-confound control."""
    main = summary[(summary.task == "within") & (summary.control == "none")
                   & summary.accuracy.notna()].copy()
    comp = main[(main.analysis == "main")
                | main.analysis.astype(str).str.startswith("probe-train")]
    # The GLM, the SVC users trust, the readout and the network; the other baselines are in 6a.
    comp = comp[(comp.inputs.astype(str) != "raster") & ~comp.model.isin(["knn", "svc_w"])].copy()
    comp["decoder"] = comp.model_label.astype(str) + ", " + comp.split.astype(str) + " split"
    conf = main[main.analysis.astype(str).str.startswith("time-")].copy()
    fig, axes = plt.subplots(1, 2, figsize=(15, 4.5), gridspec_kw={"width_ratios": [2.2, 1]})
    order = sorted(set(comp.session.dropna()) | set(conf.session.dropna()))
    labels = [f"{s} (null)" if s in null_sessions else s for s in order]
    if len(comp):
        hue_order = sorted(comp.decoder.unique())
        sns.barplot(comp, x="session", y="accuracy", hue="decoder", order=order,
                    hue_order=hue_order, errorbar=None, ax=axes[0], alpha=0.85)
        sns.stripplot(comp, x="session", y="accuracy", hue="decoder", order=order,
                      hue_order=hue_order, dodge=True, color="k", size=2.5, legend=False,
                      ax=axes[0])
        axes[0].legend(title=None, frameon=False, fontsize=7, ncol=2, loc="lower left")
    axes[0].axhline(0.5, color="grey", ls="--", lw=1)
    axes[0].set_xticks(range(len(order)), labels)
    axes[0].set(ylim=(0.2, 1.0), xlabel="animal", ylabel="test accuracy (bars: mean, dots: folds)",
                title="Trial split vs block split" + _source_tag(main))
    if len(conf):
        conf["stimulus"] = conf.analysis.str.replace("time-", "", regex=False)
        sns.barplot(conf, x="session", y="accuracy", hue="stimulus", order=order, errorbar=None,
                    ax=axes[1])
        axes[1].legend(title="blocks of", frameon=False, fontsize=7)
    axes[1].axhline(0.5, color="grey", ls="--", lw=1)
    axes[1].set_xticks(range(len(order)), labels, rotation=45)
    axes[1].set(ylim=(0.2, 1.0), xlabel="animal", ylabel="accuracy: which block? (GLM)",
                title="Time-confound control")
    _save(fig, path)


def benchmarks_figure(bench: pd.DataFrame, path: str | Path) -> None:
    """Wall time (sum over jobs) and peak memory (largest job) per rule."""
    per_rule = bench.groupby("rule").agg(jobs=("s", "size"), total_s=("s", "sum"),
                                         peak_mb=("max_rss_mb", "max"))
    per_rule = per_rule.sort_values("total_s")
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.35 * max(len(per_rule), 4) + 1.2),
                             sharey=True)
    axes[0].barh(per_rule.index, per_rule.total_s, color="#264653")
    for y, (t, n) in enumerate(zip(per_rule.total_s, per_rule.jobs, strict=True)):
        axes[0].text(t, y, f" {n} job{'s' if n > 1 else ''}", va="center", fontsize=8)
    axes[0].set(xlabel="wall seconds, summed over the rule's jobs",
                title=f"Time per rule ({per_rule.total_s.sum():.0f} job-seconds in all)")
    axes[1].barh(per_rule.index, per_rule.peak_mb, color="#e76f51")
    axes[1].set(xlabel="peak resident memory of its largest job (MB)", title="Peak memory")
    _save(fig, path)


def transfer_figure(summary: pd.DataFrame, sessions: list[str], path: str | Path) -> None:
    """Does ImageNet pretraining help? Each transfer variant beside GoogLeNet, the GLM and the
    top-stimulus readout, per animal (main split; bars: mean, error bars: SD over seeds)."""
    df = summary[(summary.task == "within") & (summary.control == "none")
                 & summary.session.isin(sessions) & summary.accuracy.notna()].copy()
    keep = (df.analysis.astype(str).str.startswith("transfer-") | (df.analysis == "probe-train")
            | ((df.analysis == "main") & (df.model.isin(["glm", "svc_w"])
                                          | (df.inputs == "neural_image"))))
    df = df[keep]
    fig, ax = plt.subplots(figsize=(max(7, 2.6 * len(sessions)), 4.5))
    if len(df):
        order = [s for s in sessions if s in set(df.session)]
        hue_order = sorted(df.model_label.unique(), key=lambda m: (not m.startswith("GLM"),
                                                                   "readout" not in m, m))
        sns.barplot(df, x="session", y="accuracy", hue="model_label", order=order,
                    hue_order=hue_order, errorbar=None, ax=ax, alpha=0.85)
        sd = df.groupby(["session", "model_label"]).seed_accuracy_sd.mean()
        mean = df.groupby(["session", "model_label"]).accuracy.mean()
        for bars, label in zip(ax.containers, hue_order, strict=False):
            for bar, session in zip(bars, order, strict=False):
                key = (session, label)
                if key in sd.index and pd.notna(sd[key]):
                    x = bar.get_x() + bar.get_width() / 2
                    ax.errorbar(x, mean[key], yerr=sd[key], color="k", lw=1, capsize=2)
        ax.legend(title=None, frameon=False, fontsize=7, ncol=2, loc="lower left")
    ax.axhline(0.5, color="grey", ls="--", lw=1)
    ax.set(ylim=(0.2, 1.0), xlabel="animal", ylabel="test accuracy (error bars: SD over seeds)",
           title="Transfer learning: ImageNet weights vs from scratch" + _source_tag(df))
    _save(fig, path)


def retention_figure(summary: pd.DataFrame, path: str | Path) -> None:
    """How much of its input the network keeps: its accuracy against an RBF SVC on the same
    ``W`` (:func:`nidecode.aggregate.retention`), within animal and across animals; one panel
    per split and preferred-stimulus mode, the main ones first."""
    from .aggregate import retention

    df = retention(summary)
    panels = sorted({(sp, m) for sp, m in zip(df.split, df.ps_mode, strict=True)},
                    key=lambda p: (p[1] != "train", p[0] != "block")) or [("", "")]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 4.6), squeeze=False)
    for ax, (split, mode) in zip(axes[0], panels, strict=True):
        d = df[(df.split == split) & (df.ps_mode == mode)]
        for task, marker in (("within", "o"), ("cross", "s")):
            t = d[d.task == task]
            ax.scatter(t.network_accuracy, t.svc_w_accuracy, marker=marker, s=28,
                       label=f"{task} ({len(t)})", alpha=0.8)
            for _, r in t.iterrows():
                ax.annotate(str(r.unit), (r.network_accuracy, r.svc_w_accuracy), fontsize=6,
                            xytext=(2, 2), textcoords="offset points")
        ax.plot([0.3, 1], [0.3, 1], color="grey", ls="--", lw=1)
        gaps = "\n".join(f"mean gap, {task}: {d[d.task == task].gap.mean():+.3f}"
                         for task in ("within", "cross") if (d.task == task).any())
        ax.text(0.03, 0.97, gaps or "no pairs", transform=ax.transAxes, va="top", fontsize=8)
        ax.set(xlim=(0.3, 1), ylim=(0.3, 1), xlabel="network accuracy (mean over seeds)",
               ylabel="RBF SVC on the same W", title=f"{split} split, {mode} mode")
        ax.legend(frameon=False, fontsize=8, loc="lower right")
    fig.suptitle("Does the network keep what its images hold? (gap = SVC - network)"
                 + _source_tag(summary))
    fig.tight_layout()
    _save(fig, path)


def blank_control_figure(summary: pd.DataFrame, null_sessions: list[str],
                         path: str | Path) -> None:
    """Fig. 17: block kind decoded from the grey-screen blanks, per animal and decoder, block
    vs trial split (bars: mean over decoded folds, dots: folds; chance 0.5). The screen is the
    same in both kinds of block: above chance is time and context, not stimulus."""
    df = summary[summary.analysis == "blank_control"].copy()
    splits = sorted(set(df.split.dropna()), key=lambda s: s != "block") or ["block"]
    order = sorted(set(df.session.dropna()))
    labels = [f"{s} (null)" if s in null_sessions else s for s in order]
    hue_order = sorted(set(df.model_label.dropna()), key=lambda m: (m != "GLM", m))
    fig, axes = plt.subplots(1, len(splits), figsize=(max(5.0, 0.9 * len(order) + 2)
                                                      * len(splits) + 1.5, 4.2),
                             sharey=True, squeeze=False)
    for ax, split in zip(axes[0], splits, strict=True):
        d = df[(df.split == split) & df.skipped.isna() & df.balanced_accuracy.notna()]
        if len(d):
            sns.barplot(d, x="session", y="balanced_accuracy", hue="model_label", order=order,
                        hue_order=hue_order, errorbar=None, ax=ax, alpha=0.85)
            sns.stripplot(d, x="session", y="balanced_accuracy", hue="model_label", order=order,
                          hue_order=hue_order, dodge=True, palette=dict.fromkeys(hue_order, "k"),
                          size=3, legend=False, ax=ax)
        # Animals with no decoded fold here (too few blanks per fold) say so, not a blank gap.
        for i, s in enumerate(order):
            if not (d.session == s).any():
                ax.text(i, 0.03, "too few\nblanks", ha="center", va="bottom", fontsize=7,
                        color="grey")
        ax.axhline(0.5, color="grey", ls="--", lw=1, label="chance")
        ax.set_xticks(range(len(order)), labels, rotation=45 if len(order) > 6 else 0)
        # Balanced accuracy lies in [0, 1]: the full range, a little headroom for the dots.
        ax.set(ylim=(0, 1.05), xlim=(-0.5, len(order) - 0.5), xlabel="animal",
               title=f"{split} split",
               ylabel="balanced accuracy: scenes vs gratings block")
        if ax.get_legend():
            ax.get_legend().remove()
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in
               sns.color_palette(n_colors=len(hue_order))]
    handles.append(plt.Line2D([], [], color="grey", ls="--", lw=1))
    # Outside the axes, right of the last panel: never over a bar.
    fig.legend(handles, [*hue_order, "chance (0.5)"], frameon=False, fontsize=8,
               loc="upper left", bbox_to_anchor=(1.0, 0.9))
    fig.suptitle("Blank-presentation control: which kind of block, from its grey-screen blanks "
                 "(above chance = time/context, not stimulus)" + _source_tag(df), fontsize=10)
    fig.tight_layout()
    _save(fig, path)
