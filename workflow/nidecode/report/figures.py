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
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from nidecode.common.analyses import analysis_field  # noqa: E402
from nidecode.images.neural_images import preferred_stimuli  # noqa: E402

CLASS_PALETTE = {"natural": "#2a9d8f", "artificial": "#e76f51"}
# One colour per decoder in every figure; its trial-split or paper-mode version is a paler
# shade of the same colour, so the two can be paired.
DECODER_COLOURS = {"GLM": "#4c72b0", "SVC on W": "#8172b3", "SVC": "#dd8452",
                   "kNN": "#55a868", "top-stimulus readout": "#937860",
                   "network on raster images": "#da8bc3", "network": "#c44e52"}
OTHER_COLOURS = ["#8c8c8c", "#ccb974", "#64b5cd", "#2f4f4f", "#b07aa1", "#ff9da7"]


def _pale(colour: str, amount: float = 0.5) -> tuple[float, float, float]:
    rgb = np.array(matplotlib.colors.to_rgb(colour))
    return tuple(rgb + (1 - rgb) * amount)


def decoder_palette(labels: list[str]) -> dict[str, object]:
    """Colours for decoder labels (``model_label``, optionally with ", trial split"): the
    decoder's own colour, paler for the trial split and for ``paper`` mode; labels of no known
    decoder (transfer variants) take the remaining colours in order."""
    out: dict[str, object] = {}
    others = iter(OTHER_COLOURS * 3)
    for label in labels:
        key = next((k for k in DECODER_COLOURS if label.startswith(k)), None)
        colour = DECODER_COLOURS[key] if key else next(others)
        pale = ("trial split" in label) + ("(paper)" in label)
        out[label] = _pale(colour, 0.3 * pale) if pale else colour
    return out


def combo_label(combo: str) -> str:
    """``M0+M1__M3`` as a reader says it: ``M0+M1 → M3``."""
    train, _, test = str(combo).partition("__")
    return f"{train} → {test}" if test else str(combo)


def animal_order(sessions, null_sessions) -> tuple[list[str], list[str]]:
    """Animals with stimulus information first (sorted), then the null animals; and their tick
    labels, the null ones marked."""
    null = [s for s in sorted(set(sessions)) if s in set(null_sessions)]
    order = [s for s in sorted(set(sessions)) if s not in set(null_sessions)] + null
    return order, [f"{s}\n(null)" if s in null else s for s in order]


def _legend_outside(ax: plt.Axes, **kw) -> None:
    """The legend right of the axes, never over the data."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  frameon=False, fontsize=8, borderaxespad=0, **kw)


def _chance(ax: plt.Axes, level: float = 0.5, vertical: bool = False) -> None:
    """The chance level, drawn and named (it joins the legend)."""
    line = ax.axvline if vertical else ax.axhline
    line(level, color="grey", ls="--", lw=1, label=f"chance ({level:g})")


def _accuracy_limits(values, low: float = 0.3, high: float = 1.0) -> tuple[float, float]:
    """Axis limits for accuracies: from 0.3 (or lower, so no point is cut off) to 1."""
    v = np.asarray(pd.to_numeric(pd.Series(np.ravel(values)), errors="coerce"), dtype=float)
    v = v[np.isfinite(v)]
    if len(v):
        low = min(low, np.floor((v.min() - 0.02) * 20) / 20)
        high = max(high, np.ceil((v.max() + 0.01) * 20) / 20)
    return max(low, 0.0), high


def _tag(ds: xr.Dataset) -> str:
    return " (SIMULATED data)" if ds.attrs.get("source") == "simulated" else ""


def _save(fig: plt.Figure, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _texts(fig: plt.Figure) -> list[tuple[str, Text]]:
    """Every piece of text drawn: titles, axis and tick labels (of ticks in view), legend
    entries and annotations, each with a description."""
    out = [(f"suptitle {t.get_text()!r}", t) for t in fig.texts]
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        out += [(f"axes {i} title {t.get_text()!r}", t)
                for t in (ax.title, ax._left_title, ax._right_title)]
        out += [(f"axes {i} text {t.get_text()!r}", t) for t in ax.texts]
        if not ax.axison:  # axis("off"): no labels or ticks are drawn
            continue
        out += [(f"axes {i} {a}label", getattr(ax, f"{a}axis").label) for a in "xy"]
        for a, lim in (("x", ax.get_xlim()), ("y", ax.get_ylim())):
            lo, hi = sorted(lim)
            axis = getattr(ax, f"{a}axis")
            for tick in axis.get_major_ticks():
                if lo - 1e-9 <= tick.get_loc() <= hi + 1e-9 and tick.label1.get_visible():
                    out.append((f"axes {i} {a} tick {tick.label1.get_text()!r}", tick.label1))
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
    for leg in legends:
        out += [(f"legend entry {t.get_text()!r}", t) for t in leg.get_texts()]
        if leg.get_title().get_text():
            out.append((f"legend title {leg.get_title().get_text()!r}", leg.get_title()))
    return [(d, t) for d, t in out if t.get_visible() and t.get_text().strip()]


def _outside(values: np.ndarray, lim: tuple[float, float]) -> bool:
    lo, hi = sorted(lim)
    v = values[np.isfinite(values)]
    tol = 1e-6 * max(1.0, hi - lo)
    return bool(len(v)) and bool((v < lo - tol).any() or (v > hi + tol).any())


def layout_problems(fig: plt.Figure) -> list[str]:
    """What a reader could not read: overlapping text, data outside the axes (clipped points,
    bar ends, error bars) and legends over a plotting area. Empty when the figure is clean."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems = []
    texts = [(d, t.get_window_extent(renderer)) for d, t in _texts(fig)]
    for i, (d1, b1) in enumerate(texts):
        for d2, b2 in texts[i + 1:]:
            # a pixel of tolerance: touching is not overlapping
            if (min(b1.x1, b2.x1) - max(b1.x0, b2.x0) > 1
                    and min(b1.y1, b2.y1) - max(b1.y0, b2.y0) > 1):
                problems.append(f"text overlaps: {d1} and {d2}")
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible() or ax.name != "rectilinear":
            continue
        xlim, ylim = ax.get_xlim(), ax.get_ylim()
        for line in ax.lines:
            if line.get_transform() != ax.transData:
                continue  # reference lines (chance, diagonals in axes coordinates)
            xy = np.asarray(line.get_xydata(), dtype=float)
            if len(xy) and (_outside(xy[:, 0], xlim) or _outside(xy[:, 1], ylim)):
                problems.append(f"axes {i}: line {line.get_label()!r} outside the axes")
        for coll in ax.collections:
            if coll.get_offset_transform() == ax.transData and len(coll.get_offsets()):
                off = np.asarray(coll.get_offsets(), dtype=float)
                if _outside(off[:, 0], xlim) or _outside(off[:, 1], ylim):
                    problems.append(f"axes {i}: points outside the axes")
            if hasattr(coll, "get_segments") and coll.get_transform() == ax.transData:
                for seg in coll.get_segments():
                    seg = np.asarray(seg, dtype=float)
                    if len(seg) and (_outside(seg[:, 0], xlim) or _outside(seg[:, 1], ylim)):
                        problems.append(f"axes {i}: error bar outside the axes")
                        break
        for patch in ax.patches:
            if isinstance(patch, Rectangle) and patch.get_transform() == ax.transData:
                # A bar's far end (its value): y + height upright, x + width lying; its
                # other end is the baseline, which may start below the axis.
                far = (np.array([patch.get_x() + patch.get_width()]), xlim), (
                    np.array([patch.get_y() + patch.get_height()]), ylim)
                if any(_outside(v, lim) for v, lim in far):
                    problems.append(f"axes {i}: bar end outside the axes")
    areas = [ax.get_window_extent(renderer) for ax in fig.axes if ax.get_visible()]
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
    for leg in legends:
        b = leg.get_window_extent(renderer)
        for a in areas:
            if min(a.x1, b.x1) - max(a.x0, b.x0) > 1 and min(a.y1, b.y1) - max(a.y0, b.y0) > 1:
                entries = [t.get_text() for t in leg.get_texts()][:3]
                problems.append(f"legend over a plotting area: {entries}")
                break
    return problems


def raster_figure(ds: xr.Dataset, path: str | Path) -> None:
    """Fig. 1: every unit's response to every trial of both classes, in time order, with the
    stimulus blocks marked (a coloured strip: natural scenes or gratings)."""
    order = np.argsort(ds.start_time.values, kind="stable") if "start_time" in ds else \
        np.arange(ds.sizes["presentation"])
    r = ds.response.values[order].T
    cls = ds.stimulus_class.values[order]
    fig, (strip, ax) = plt.subplots(2, 1, figsize=(10, 4.6), sharex=True,
                                    gridspec_kw={"height_ratios": [1, 12], "hspace": 0.05})
    colours = np.array([matplotlib.colors.to_rgb(CLASS_PALETTE[c]) for c in cls])
    strip.imshow(colours[None], aspect="auto", interpolation="nearest")
    strip.set_yticks([])
    strip.set_title(f"{ds.attrs['animal']}: responses to every trial in time order, "
                    f"natural scenes and gratings{_tag(ds)}")
    im = ax.imshow(r, aspect="auto", cmap="magma", vmin=-1, vmax=4, interpolation="nearest")
    if "stimulus_block" in ds:
        block = ds.stimulus_block.values[order]
        for edge in np.flatnonzero(np.diff(block) != 0) + 0.5:
            ax.axvline(edge, color="w", lw=0.8)
            strip.axvline(edge, color="w", lw=0.8)
    fig.colorbar(im, ax=[strip, ax], label="response (z)", pad=0.01)
    ax.set_xlabel(f"trials in time order (n = {r.shape[1]}); white lines: stimulus blocks")
    ax.set_ylabel(f"units (n = {r.shape[0]})")
    ax.set_yticks([])
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in CLASS_PALETTE.values()]
    strip.legend(handles, [f"{k} ({'scenes' if k == 'natural' else 'gratings'})"
                           for k in CLASS_PALETTE], loc="lower left", bbox_to_anchor=(0, 1.6),
                 ncol=2, frameon=False, fontsize=8)
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
    _legend_outside(np.atleast_1d(axes)[-1])
    fig.suptitle(f"{ds.attrs['animal']}: example units, 4 natural scenes and 4 gratings{_tag(ds)}",
                 y=1.0)
    fig.tight_layout()
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
    _legend_outside(ax)
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
    axes[0, 0].text(-0.12, 0.5, "stimulus", transform=axes[0, 0].transAxes, ha="right",
                    va="center", rotation=90)
    axes[1, 0].text(-0.12, 0.5, "neural image", transform=axes[1, 0].transAxes, ha="right",
                    va="center", rotation=90)
    fig.suptitle(f"{weights.attrs['animal']}: stimuli and neural images of test trials "
                 f"({weights.attrs['ps_mode']} mode){_tag(weights)}")
    _save(fig, path)


def within_figure(summary: pd.DataFrame, path: str | Path,
                  null_sessions: list[str] | tuple = ()) -> None:
    """Fig. 6a: within-animal accuracy per animal, every decoder (bars: mean, dots: folds).

    Every decoder on the folds the network ran (like for like). Error bars: mean of the folds'
    95 % Wilson intervals, which assume independent trials. Null animals last.
    """
    df = _main(summary)
    df = df[(df.task == "within") & df.accuracy.notna()]
    net_folds = sorted({int(f) for f in df[df.inputs == "neural_image"].fold.dropna()})
    if net_folds:
        df = df[df.fold.isin(net_folds)]
    order, labels = animal_order(df.session.dropna(), null_sessions)
    hue_order = sorted(df.model_label.unique(), key=_decoder_rank)
    palette = decoder_palette(hue_order)
    fig, ax = plt.subplots(figsize=(max(6, len(order) * 1.2), 4))
    if len(df):
        sns.barplot(df, x="session", y="accuracy", hue="model_label", order=order,
                    hue_order=hue_order, palette=palette, ax=ax, errorbar=None, alpha=0.85)
        sns.stripplot(df, x="session", y="accuracy", hue="model_label", order=order,
                      hue_order=hue_order, ax=ax, dodge=True, palette=dict.fromkeys(hue_order, "k"),
                      size=3, legend=False)
    means = df.groupby(["session", "model_label"])[["accuracy", "ci95_low", "ci95_high"]].mean()
    for bar_group, label in zip(ax.containers, hue_order, strict=False):
        for bar, session in zip(bar_group, order, strict=False):
            if (session, label) in means.index:
                m = means.loc[(session, label)]
                x = bar.get_x() + bar.get_width() / 2
                ax.plot([x, x], [m.ci95_low, m.ci95_high], color="k", lw=1)
    _chance(ax)
    folds = ("" if not net_folds else " (fold" + ("s " if len(net_folds) > 1 else " ")
             + ", ".join(map(str, net_folds)) + ", the network's)")
    ax.set_xticks(range(len(order)), labels)
    ax.set(ylim=_accuracy_limits(df[["accuracy", "ci95_low", "ci95_high"]]),
           ylabel="test accuracy (95 % Wilson, indep. trials)", xlabel="animal",
           title="Within-animal decoding: natural vs artificial" + folds + _source_tag(df))
    _legend_outside(ax)
    _save(fig, path)


# Decoders in one order everywhere; a label is matched by its longest known prefix.
DECODER_ORDER = ["GLM", "SVC", "kNN", "SVC on W", "top-stimulus readout", "network",
                 "network on raster"]


def _decoder_rank(label: str) -> tuple[int, str]:
    """Decoders in one order everywhere: GLM, SVC, kNN, SVC on W, readout, network, raster."""
    keys = [k for k in DECODER_ORDER if label.startswith(k)]
    return (DECODER_ORDER.index(max(keys, key=len)) if keys else len(DECODER_ORDER), label)


def _main(summary: pd.DataFrame) -> pd.DataFrame:
    """Main-analysis jobs (no control, no future-work analysis)."""
    return summary[(summary.analysis == "main") & (summary.control == "none")]


def _analysis(df: pd.DataFrame, field: str = "kind") -> pd.Series:
    """One field of each row's analysis record (:class:`nidecode.common.analyses.Analysis`):
    its kind by default."""
    return pd.Series(analysis_field(df.analysis, field), index=df.index, dtype=object)


def controls_figure(summary: pd.DataFrame, null_sessions: list[str], path: str | Path) -> None:
    """Leakage and controls: the null animal in both modes and both splits, and the network's
    shuffle controls; bars in each decoder's colour (paler: ``paper`` mode)."""
    df = summary[(summary.task == "within") & summary.accuracy.notna()].copy()
    df["condition"] = (df.model_label + ", " + df.split.astype(str) + " split"
                       + np.where(df.control == "none", "", " / " + df.control.astype(str)))
    null = df[df.session.isin(null_sessions) & (df.control == "none")
              & _analysis(df).isin(["main", "readout"])]
    ctrl_sessions = sorted(df[df.control != "none"].session.dropna().unique())
    ctrl = df[df.session.isin(ctrl_sessions) & (df.analysis == "main")
              & (df.inputs == "neural_image")]
    panels = [(data, title) for data, title in (
        (null, f"null animal {', '.join(null_sessions)}: units carry no stimulus information"),
        (ctrl, f"network controls in {', '.join(ctrl_sessions)}")) if len(data)] or [
        (null, "no null animal or controls in this run")]
    height = max(3.0, 0.3 * max(d.condition.nunique() for d, _ in panels) + 1.5)
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, height * len(panels)), squeeze=False)
    for ax, (data, title) in zip(axes[:, 0], panels, strict=True):
        if len(data):
            order = sorted(data.condition.unique(), key=lambda c: (_decoder_rank(c), c))
            base = {c: c.split(", ")[0] for c in order}
            colours = decoder_palette(sorted(set(base.values())))
            sns.barplot(data, y="condition", x="accuracy", order=order, ax=ax, errorbar=None,
                        hue="condition", hue_order=order, legend=False,
                        palette={c: colours[base[c]] for c in order})
            sns.stripplot(data, y="condition", x="accuracy", order=order, ax=ax, color="k",
                          size=4)
            for i, c in enumerate(order):
                d = data[data.condition == c]
                ax.plot([d.ci95_low.mean(), d.ci95_high.mean()], [i, i], color="k", lw=1.5)
        _chance(ax, vertical=True)
        ax.set(xlim=_accuracy_limits(data[["accuracy", "ci95_low", "ci95_high"]]),
               xlabel="test accuracy (95 % Wilson, indep. trials)", ylabel="", title=title)
        _legend_outside(ax)
    fig.suptitle("Leakage and controls" + _source_tag(df))
    fig.tight_layout()
    _save(fig, path)


def analyses_figure(summary: pd.DataFrame, kind: str, path: str | Path, title: str,
                    null_sessions: list[str] | tuple = ()) -> None:
    """Future-work analyses of one ``kind`` (label: sub-classes, areas: regions, arousal):
    balanced accuracy per animal (bars: mean over folds, error bars: SD over folds), each
    chance level drawn and named."""
    df = summary[(_analysis(summary) == kind) & summary.accuracy.notna()].copy()
    df["detail"] = _analysis(df, "detail")
    if kind == "areas":  # the main analysis' area joins the comparison
        main = _main(summary)
        main = main[(main.task == "within") & (main.model == "glm")].copy()
        main["detail"] = main.areas_used.astype(str) + " (main)"
        df = pd.concat([main, df[df.model == "glm"]])
    fig, ax = plt.subplots(figsize=(10, 4))
    if len(df):
        df["name"] = df.detail + " " + df.model_label
        order, labels = animal_order(df.session.dropna(), null_sessions)
        # The GLM decodes these analyses: shades of its colour, one per analysis.
        names = sorted(df.name.unique())
        shades = sns.blend_palette([_pale(DECODER_COLOURS["GLM"], 0.6), DECODER_COLOURS["GLM"]],
                                   max(len(names), 2))[-len(names):]
        sns.barplot(df, x="session", y="balanced_accuracy", hue="name", ax=ax, errorbar="sd",
                    order=order, hue_order=names, palette=dict(zip(names, shades, strict=True)))
        ax.set_xticks(range(len(order)), labels)
        chance = df.groupby("name").chance_balanced_accuracy.mean()
        for c in sorted(set(chance.round(3))):
            k = round(1 / c) if c > 0 else 0
            ax.axhline(c, color="grey", ls="--", lw=1, label=f"chance, {k} classes ({c:.2f})")
    ax.set(ylim=(0, 1.05), ylabel="balanced accuracy (SD over folds)", xlabel="animal",
           title=title + _source_tag(df))
    _legend_outside(ax)
    _save(fig, path)


def unit_count_figure(summary: pd.DataFrame, path: str | Path,
                      null_sessions: list[str] | tuple = ()) -> None:
    """Accuracy against the number of units (random subsets), mean ± SD over the animals with
    stimulus information (null animals apart: they have none to lose)."""
    df = summary[(_analysis(summary) == "units")
                 & summary.accuracy.notna() & ~summary.session.isin(null_sessions)].copy()
    fig, ax = plt.subplots(figsize=(6, 4))
    if len(df):
        df["n_units_used"] = _analysis(df, "n_units").astype(int)
        hue_order = sorted(df.model_label.unique(), key=_decoder_rank)
        sns.lineplot(df, x="n_units_used", y="accuracy", hue="model_label", marker="o",
                     errorbar="sd", ax=ax, hue_order=hue_order,
                     palette=decoder_palette(hue_order))
        ax.set_xscale("log")
        counts = sorted(df.n_units_used.unique())
        ax.set_xticks(counts, [str(c) for c in counts])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_ylim(*_accuracy_limits(df.groupby(["n_units_used", "model_label"]).accuracy
                                      .agg(["min", "max"])))
    _chance(ax)
    ax.set(xlabel="units (random subsets)", ylabel="test accuracy (mean ± SD over animals)",
           title="Accuracy vs number of units" + _source_tag(df))
    _legend_outside(ax)
    _save(fig, path)


def cross_figure(summary: pd.DataFrame, path: str | Path) -> None:
    """Fig. 6b: cross-animal combos (train → test) in ascending order of the network's
    accuracy, every decoder that ran across animals beside it (95 % Wilson intervals, which
    assume independent trials)."""
    df = _main(summary)
    df = df[(df.task == "cross") & df.accuracy.notna()].copy()
    fig, ax = plt.subplots(figsize=(7, 0.45 * max(df.combo.nunique() * 2, 4) + 1.2))
    if len(df):
        net = df[df.inputs == "neural_image"]
        key = (net if len(net) else df).groupby("combo").accuracy.mean().sort_values()
        order = [c for c in key.index] + sorted(set(df.combo) - set(key.index))
        df["combo_label"] = df.combo.map(combo_label)
        hue_order = sorted(df.model_label.unique(), key=_decoder_rank)
        sns.barplot(df, y="combo_label", x="accuracy", hue="model_label",
                    order=[combo_label(c) for c in order], hue_order=hue_order,
                    palette=decoder_palette(hue_order), errorbar=None, ax=ax)
        for bars, label in zip(ax.containers, hue_order, strict=False):
            for bar, combo in zip(bars, order, strict=False):
                r = df[(df.combo == combo) & (df.model_label == label)]
                if len(r):
                    y = bar.get_y() + bar.get_height() / 2
                    ax.plot([r.ci95_low.iloc[0], r.ci95_high.iloc[0]], [y, y], color="k", lw=1)
    _chance(ax, vertical=True)
    ax.set(xlim=_accuracy_limits(df[["accuracy", "ci95_low", "ci95_high"]]),
           xlabel="test accuracy (95 % Wilson, indep. trials)", ylabel="train → test animals",
           title="Across animals" + _source_tag(df))
    _legend_outside(ax)
    _save(fig, path)


def embeddings_figure(test_weights: dict[str, xr.Dataset], summary: pd.DataFrame,
                      stimuli: xr.Dataset, path: str | Path, max_trials: int = 800) -> None:
    """Fig. 7: PCA and t-SNE of neural images for the best and the worst combo."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    cross = _main(summary)
    # The network's combos: the images shown are the network's input, so is the accuracy.
    cross = cross[(cross.task == "cross") & (cross.inputs == "neural_image")].sort_values(
        "accuracy")
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
                            alpha=0.6, ax=ax, linewidth=0, legend=col == 1 and row == 0)
            ax.set_title(f"{tag}: {combo_label(rec.combo)}, network accuracy "
                         f"{rec.accuracy:.2f} ({method})", fontsize=9)
            if col == 1 and row == 0:
                _legend_outside(ax)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("Neural images of the test animal" + _source_tag(cross))
    _save(fig, path)


def _source_tag(df: pd.DataFrame) -> str:
    return " (SIMULATED data)" if "simulated" in set(df.get("source", [])) else ""


def time_confound_figure(summary: pd.DataFrame, null_sessions: list[str],
                         path: str | Path) -> None:
    """Trial vs block split per animal (the GLM, the SVC, the readout, the network; each
    decoder one colour, its trial split the paler shade), and the time-confound control."""
    main = summary[(summary.task == "within") & (summary.control == "none")
                   & summary.accuracy.notna()].copy()
    comp = main[(main.analysis == "main")
                | ((_analysis(main) == "readout") & (_analysis(main, "mode") == "train"))]
    # The GLM, the SVC users trust, the readout and the network; the other baselines are in 6a.
    comp = comp[(comp.inputs.astype(str) != "raster") & ~comp.model.isin(["knn", "svc_w"])].copy()
    comp["decoder"] = comp.model_label.astype(str) + ", " + comp.split.astype(str) + " split"
    conf = main[_analysis(main) == "time"].copy()
    fig, axes = plt.subplots(2, 1, figsize=(12, 8.5), gridspec_kw={"height_ratios": [1.4, 1]})
    order, labels = animal_order(set(comp.session.dropna()) | set(conf.session.dropna()),
                                 null_sessions)
    if len(comp):
        hue_order = sorted(comp.decoder.unique(),
                           key=lambda d: (_decoder_rank(d), "trial split" in d))
        sns.barplot(comp, x="session", y="accuracy", hue="decoder", order=order,
                    hue_order=hue_order, palette=decoder_palette(hue_order), errorbar=None,
                    ax=axes[0])
        sns.stripplot(comp, x="session", y="accuracy", hue="decoder", order=order,
                      hue_order=hue_order, dodge=True, palette=dict.fromkeys(hue_order, "k"),
                      size=2.5, legend=False, ax=axes[0])
    _chance(axes[0])
    axes[0].set_xticks(range(len(order)), labels)
    axes[0].set(ylim=_accuracy_limits(comp.accuracy, low=0.2), xlabel="animal",
                ylabel="test accuracy (bars: mean, dots: folds)",
                title="Trial split vs block split" + _source_tag(main))
    _legend_outside(axes[0])
    if len(conf):
        conf["stimulus"] = "blocks of " + _analysis(conf, "stimulus")
        sns.barplot(conf, x="session", y="accuracy", hue="stimulus", order=order, errorbar=None,
                    ax=axes[1], palette=["#2a9d8f", "#e76f51"])
    _chance(axes[1])
    axes[1].set_xticks(range(len(order)), labels)
    axes[1].set(ylim=_accuracy_limits(conf.accuracy, low=0.2), xlabel="animal",
                ylabel="accuracy: which block? (GLM)",
                title="Time-confound control: two blocks of the same stimulus told apart")
    _legend_outside(axes[1])
    fig.tight_layout()
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


def transfer_figure(summary: pd.DataFrame, sessions: list[str], path: str | Path,
                    null_sessions: list[str] | tuple = ()) -> None:
    """Does ImageNet pretraining help? Each transfer variant beside the network, the GLM, the
    SVC on W and the top-stimulus readout, per animal (main split; bars: mean, error bars: SD
    over seeds)."""
    df = summary[(summary.task == "within") & (summary.control == "none")
                 & summary.session.isin(sessions) & summary.accuracy.notna()].copy()
    keep = ((_analysis(df) == "transfer") | (df.analysis == "readout-train")
            | ((df.analysis == "main") & (df.model.isin(["glm", "svc_w"])
                                          | (df.inputs == "neural_image"))))
    df = df[keep]
    fig, ax = plt.subplots(figsize=(max(7, 2.6 * len(sessions)), 4.5))
    if len(df):
        order, labels = animal_order(df.session.dropna(), null_sessions)
        hue_order = sorted(df.model_label.unique(), key=_decoder_rank)
        sns.barplot(df, x="session", y="accuracy", hue="model_label", order=order,
                    hue_order=hue_order, palette=decoder_palette(hue_order), errorbar=None,
                    ax=ax)
        sd = df.groupby(["session", "model_label"]).seed_accuracy_sd.mean()
        mean = df.groupby(["session", "model_label"]).accuracy.mean()
        for bars, label in zip(ax.containers, hue_order, strict=False):
            for bar, session in zip(bars, order, strict=False):
                key = (session, label)
                if key in sd.index and pd.notna(sd[key]):
                    x = bar.get_x() + bar.get_width() / 2
                    ax.errorbar(x, mean[key], yerr=sd[key], color="k", lw=1, capsize=2)
        ax.set_xticks(range(len(order)), labels)
        ax.set_ylim(*_accuracy_limits(pd.concat([mean - sd.fillna(0), mean + sd.fillna(0)]),
                                      low=0.2))
    _chance(ax)
    ax.set(xlabel="animal", ylabel="test accuracy (error bars: SD over seeds)",
           title="Transfer learning: ImageNet weights vs from scratch" + _source_tag(df))
    _legend_outside(ax)
    _save(fig, path)


def retention_figure(summary: pd.DataFrame, path: str | Path,
                     null_sessions: list[str] | tuple = ()) -> None:
    """How much of its input the network keeps: its accuracy against an RBF SVC on the same
    ``W`` (:func:`nidecode.report.aggregate.retention`), within animal and across animals; one panel
    per split and preferred-stimulus mode, the main ones first. Null animals are drawn apart
    (grey) and left out of the mean gap, as on the front page."""
    from nidecode.report.aggregate import retention

    df = retention(summary)
    df["null"] = df.unit.isin(null_sessions)
    panels = sorted({(sp, m) for sp, m in zip(df.split, df.ps_mode, strict=True)},
                    key=lambda p: (p[1] != "train", p[0] != "block")) or [("", "")]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels) + 2, 4.6),
                             squeeze=False)
    lim = _accuracy_limits(df[["network_accuracy", "svc_w_accuracy"]])
    for ax, (split, mode) in zip(axes[0], panels, strict=True):
        d = df[(df.split == split) & (df.ps_mode == mode)]
        for task, marker in (("within", "o"), ("cross", "s")):
            t = d[(d.task == task) & ~d.null]
            ax.scatter(t.network_accuracy, t.svc_w_accuracy, marker=marker, s=28,
                       color=DECODER_COLOURS["network"], alpha=0.8)
        n = d[d.null]
        ax.scatter(n.network_accuracy, n.svc_w_accuracy, marker="x", s=28, color="grey")
        ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, transform=ax.transAxes)
        gaps = "\n".join(f"mean gap, {task}: {d[(d.task == task) & ~d.null].gap.mean():+.3f}"
                         for task in ("within", "cross") if ((d.task == task) & ~d.null).any())
        ax.text(0.03, 0.97, gaps or "no pairs", transform=ax.transAxes, va="top", fontsize=8)
        ax.set(xlim=lim, ylim=lim, xlabel="network accuracy (mean over seeds)",
               ylabel="RBF SVC on the same W", title=f"{split} split, {mode} mode")
    marks = [plt.Line2D([], [], marker=m, ls="", color=c) for m, c in
             (("o", DECODER_COLOURS["network"]), ("s", DECODER_COLOURS["network"]),
              ("x", "grey"))] + [plt.Line2D([], [], color="grey", ls="--", lw=1)]
    axes[0, -1].legend(marks, ["within animal", "across animals", "null animal", "no gap"],
                       loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8,
                       borderaxespad=0)
    fig.suptitle("Does the network keep what its images hold? (gap = SVC on W − network)"
                 + _source_tag(summary))
    fig.tight_layout()
    _save(fig, path)


def blank_control_figure(summary: pd.DataFrame, null_sessions: list[str],
                         path: str | Path) -> None:
    """Fig. 17: block kind decoded from the grey-screen blanks, per animal and decoder, block
    vs trial split (bars: mean over decoded folds, dots: folds; chance 0.5). The screen is the
    same in both kinds of block: above chance is time and context, not stimulus."""
    _control_figure(summary, "blank_control", null_sessions, path,
                    "balanced accuracy: scenes vs gratings block", "too few\nblanks",
                    "Blank-presentation control: which kind of block, from its grey-screen "
                    "blanks (above chance = time/context, not stimulus)")


def drift_control_figure(summary: pd.DataFrame, null_sessions: list[str],
                         path: str | Path) -> None:
    """Fig. 18: the gabor-epoch drift control, per animal and decoder, block vs trial split
    (bars: mean over folds, dots: folds; chance 0.5). The label is only time (six stretches of
    the epoch labelled SG NS NS SG NS SG, condition means removed): above chance is drift."""
    _control_figure(summary, "drift_control", null_sessions, path,
                    "balanced accuracy: time-only label", "no gabor\nepoch",
                    "Gabor-epoch drift control: a label that is only time, from each "
                    "recording's own gabor epoch (above chance = drift)")


def _control_figure(summary: pd.DataFrame, analysis: str, null_sessions: list[str],
                    path: str | Path, ylabel: str, missing: str, title: str) -> None:
    """Per animal and decoder, one panel per split, of a control's balanced accuracy."""
    df = summary[summary.analysis == analysis].copy()
    splits = sorted(set(df.split.dropna()), key=lambda s: s != "block") or ["block"]
    order, labels = animal_order(df.session.dropna(), null_sessions)
    hue_order = sorted(set(df.model_label.dropna()), key=_decoder_rank)
    palette = decoder_palette(hue_order)
    fig, axes = plt.subplots(1, len(splits), figsize=(max(5.0, 0.9 * len(order) + 2)
                                                      * len(splits) + 1.5, 4.2),
                             sharey=True, squeeze=False)
    for ax, split in zip(axes[0], splits, strict=True):
        d = df[(df.split == split) & df.skipped.isna() & df.balanced_accuracy.notna()]
        if len(d):
            sns.barplot(d, x="session", y="balanced_accuracy", hue="model_label", order=order,
                        hue_order=hue_order, palette=palette, errorbar=None, ax=ax)
            sns.stripplot(d, x="session", y="balanced_accuracy", hue="model_label", order=order,
                          hue_order=hue_order, dodge=True, palette=dict.fromkeys(hue_order, "k"),
                          size=3, legend=False, ax=ax)
        # Animals with no decoded fold here (too few blanks, no epoch) say so, not a blank gap.
        for i, s in enumerate(order):
            if not (d.session == s).any():
                ax.text(i, 0.03, missing, ha="center", va="bottom", fontsize=7,
                        color="grey")
        ax.axhline(0.5, color="grey", ls="--", lw=1, label="chance")
        ax.set_xticks(range(len(order)), labels)
        # Balanced accuracy lies in [0, 1]: the full range, a little headroom for the dots.
        ax.set(ylim=(0, 1.05), xlim=(-0.5, len(order) - 0.5), xlabel="animal",
               title=f"{split} split",
               ylabel=ylabel)
        if ax.get_legend():
            ax.get_legend().remove()
    handles = [plt.Rectangle((0, 0), 1, 1, color=palette[m]) for m in hue_order]
    handles.append(plt.Line2D([], [], color="grey", ls="--", lw=1))
    # Outside the axes, right of the last panel: never over a bar.
    fig.legend(handles, [*hue_order, "chance (0.5)"], frameon=False, fontsize=8,
               loc="upper left", bbox_to_anchor=(1.0, 0.9))
    fig.suptitle(title + _source_tag(df), fontsize=10)
    fig.tight_layout()
    _save(fig, path)
