"""The report's front page (reStructuredText): :func:`front_page` and its lines on the null
animal's cross-animal control, the blanks through the main decoders, the blank-presentation
control and the gabor-epoch drift control, each from the run's tables
(nidecode.report.aggregate) and sentences (nidecode.report.sentences)."""

from __future__ import annotations

import pandas as pd

from nidecode.decoders.registry import registered
from nidecode.evaluation.statistics import holm
from nidecode.report.aggregate import (
    ARCH_NAMES,
    blank_control_means,
    blanks_through_main,
    decoder_comparison,
    regime,
    tests_on_null,
)
from nidecode.report.sentences import ALPHA, _animals, verdict


def blank_control_line(summary: pd.DataFrame, split: str, exclude: list[str] | tuple = ()
                       ) -> str:
    """The front page's line of the blank-presentation control in ``split``, beside the main
    GLM's balanced accuracy over the same animals."""
    means = blank_control_means(summary, exclude)
    means = means[means.split == split]
    if not len(means):
        return f"* Blank-presentation control ({split} split): not run"
    every = summary[(summary.analysis == "main") & (summary.control == "none")
                    & (summary.task == "within") & (summary.model == "glm")
                    & (summary.split == split)]
    main = every[~every.session.isin(exclude)]
    glm_main = main.groupby("session").balanced_accuracy.mean().mean()
    order = {m: i for i, m in enumerate(registered())}
    means = means.sort_values("model", key=lambda m: m.map(order))
    decoded = means[means.n_sessions > 0]
    if not len(decoded):
        got = "not decoded: too few blanks per fold in every session (``skipped`` in summary.csv)"
    else:
        got = "balanced accuracy " + ", ".join(
            f"{r.model_label} **{r.balanced_accuracy:.2f}**" for r in decoded.itertuples()) + (
            f" (mean over {decoded.n_sessions.max()} animal"
            + ("s" if decoded.n_sessions.max() != 1 else "")
            + ("" if not len(exclude) else ", null animals left out") + "; chance 0.5)")
    skipped = int(means.n_skipped_folds.sum())
    # Per animal, the GLM on the blanks beside the main GLM (balanced accuracy, mean of folds).
    blank = summary[(summary.analysis == "blank_control") & (summary.model == "glm")
                    & (summary.split == split)].groupby("session").balanced_accuracy.mean()
    glm_each = every.groupby("session").balanced_accuracy.mean()  # null animals too
    each = "; ".join(f"{a} " + ("not decoded" if pd.isna(blank[a]) else f"{blank[a]:.2f}")
                     + f" / {glm_each[a]:.2f}" for a in blank.index if a in glm_each.index)
    return (f"* Blank-presentation control ({split} split), block kind (scenes vs gratings) "
            f"from the grey-screen blanks inside the blocks: {got}; main GLM "
            f"{glm_main:.2f} (balanced accuracy, same animals)"
            + (f". Per animal, GLM on blanks / main GLM: {each}" if each else "")
            + (f"; {skipped} fold(s) skipped for too few blanks" if skipped else "")
            + ". The screen is the same grey in both kinds of block, so accuracy above 0.5 "
            "here is time/context, not stimulus.")


def null_cross_line(summary: pd.DataFrame, split: str, null: list[str] | tuple) -> str | None:
    """The front page's line of the cross-animal negative control (``decoding.null_combos``):
    every decoder that ran across animals, trained on animals with stimulus information and
    tested on a null animal; None where no such combo ran."""
    df = summary[(summary.analysis == "main") & (summary.control == "none")
                 & (summary.split == split) & (summary.task == "cross")]
    df = df[tests_on_null(df, null) & df.accuracy.notna()]
    if not len(df):
        return None
    parts = []
    for combo, d in df.groupby("combo", sort=False):
        train, test = str(combo).split("__")
        scores = ", ".join(
            f"{r.model_label} {r.accuracy:.2f}" + (
                "" if pd.isna(r.ci95_low) else f" [{r.ci95_low:.2f}, {r.ci95_high:.2f}]")
            for r in d.sort_values("model_label").itertuples())
        parts.append(f"trained on {train.replace('+', ' + ')}, tested on {test}: {scores}")
    return (f"* **Cross-animal negative control** ({split} split; the test animal's units ignore "
            "the stimulus; accuracy, chance 0.5, Wilson 95 % interval): " + "; ".join(parts)
            + ". The test animal's W is built from its own calibration blocks, so a score "
            "above chance here is its drift entering the stimulus columns W's decoders read.")


def blanks_through_main_line(summary: pd.DataFrame, split: str,
                             null: list[str] | tuple = ()) -> str:
    """The front page's line: each main decoder's score on its test trials beside its score on
    the blanks (what time, context and the previous presentation's tail give it; not a share
    of the main score)."""
    t = blanks_through_main(summary, split, null)
    if not len(t):
        return f"* Blanks through the main decoders ({split} split): not scored"
    a = t[t.group == "animals"]
    parts = []
    for r in a.itertuples():
        test = ("" if pd.isna(r.p_paired) else
                f", main − blanks paired over {r.n_animals} animals p {r.p_paired:.2g}")
        parts.append(f"the {r.model_label} {r.main:.2f} on its test trials, **{r.blanks:.2f}** "
                     f"on the blanks{test}")
    nulls = t[t.group != "animals"]
    null_txt = "; ".join(f"{r.group.removeprefix('null ')} {r.model_label} {r.main:.2f} / "
                         f"{r.blanks:.2f}" for r in nulls.itertuples())
    which = ("the grey-screen blanks of its test blocks" if split == "block" else
             "every grey-screen blank (their neighbours in time trained it)")
    return (f"* **Blanks through the main decoders** ({split} split; each fitted main decoder "
            f"calls {which}, balanced accuracy, chance 0.5, mean over the animals with "
            "stimulus information): " + "; ".join(parts)
            + (f". Null animals, main / blanks: {null_txt}" if null_txt else "")
            + ". A blank shows no stimulus, but its window still carries about a third of the "
            "previous presentation's response (docs/method.md, \"Blanks through the main "
            "decoders\"), so a blank's score is what time, context and that tail give the "
            "decoder: an upper bound on what time alone gives, not a part of its main score.")


def drift_control_lines(summary: pd.DataFrame, groups: pd.DataFrame | None,
                        null_sessions: list[str] | tuple = ()) -> list[str]:
    """The front page's lines of the gabor-epoch drift control: one sentence per animal
    (every decoder's mean balanced accuracy over folds, trial and block split), then the
    group test of the mean over the animals with stimulus information, per split."""
    df = summary[summary.analysis == "drift_control"]
    if not len(df):
        return ["* **Gabor-epoch drift control**: not run"]
    order = {m: i for i, m in enumerate(registered())}
    models = sorted(set(df.model.dropna()), key=lambda m: order.get(m, len(order)))
    label = {m: df[df.model == m].model_label.iloc[0] for m in models}
    done = df[df.skipped.isna() & df.balanced_accuracy.notna()]
    mean = done.groupby(["session", "split", "model"]).balanced_accuracy.mean()
    lines = ["* **Gabor-epoch drift control** (a label that is only time: each recording's own "
             "gabor epoch cut into six stretches labelled SG NS NS SG NS SG, condition means "
             "removed; balanced accuracy, chance 0.5):"]

    def at(session: str, split: str, model: str) -> str:
        v = mean.get((session, split, model))
        return "not run" if v is None else f"{v:.2f}"

    for session in dict.fromkeys(df.session.dropna()):
        d = df[df.session == session]
        if d.skipped.notna().all():
            lines.append(f"  * {session}: skipped ({d.skipped.dropna().iloc[0]})")
            continue
        first, rest = models[0], models[1:]
        others = ", ".join(f"{label[m]} {at(session, 'trial', m)} / {at(session, 'block', m)}"
                           for m in rest)
        lines.append(
            f"  * {session}{' (null animal)' if session in null_sessions else ''}: on this "
            f"recording's gabor epoch, a label that is only time is decoded at "
            f"{at(session, 'trial', first)} (trial split) and {at(session, 'block', first)} "
            f"(block split) by the {label[first]}" + (f"; trial / block: {others}" if others
                                                      else "") + ".")
    if groups is not None and len(groups):
        g = groups[groups.group == "animals"]
        # Every decoder in every split is one test of the same null: Holm over all of them.
        adjusted = dict(zip(g.index, holm(list(g.p_time_group)), strict=True))
        for split, d in g.groupby("split", sort=False):
            tests = ", ".join(
                f"{label.get(r.model, r.model)} {r.balanced_accuracy_mean:.2f} "
                f"(p {r.p_time_group:.2g})"
                for r in d.sort_values("model", key=lambda m: m.map(order)).itertuples())
            n = int(d.n_sessions.max())
            lines.append(f"  * Mean over the {n} animal{'s' if n != 1 else ''} with stimulus "
                         f"information, {split} split, with the time-respecting group test: "
                         f"{tests}.")
        if len(g):
            n_rejected = sum(p <= ALPHA for p in adjusted.values())
            lines.append(
                f"  * The label is only time, so a rejection here is a false positive of the "
                f"test on this run's drift. {len(g)} group tests ran (decoders × splits); "
                f"Holm-adjusted over them, {n_rejected} reject at p ≤ {ALPHA:g} (smallest "
                f"adjusted p {min(adjusted.values()):.2g}).")
    return lines


def _rst_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = [".. list-table::", "   :header-rows: 1", ""]
    for r in [header, *rows]:
        out.append("   * - " + r[0])
        out += [f"     - {c}" for c in r[1:]]
    return out + [""]


def front_page(summary: pd.DataFrame, groups: pd.DataFrame, config: dict,
               drift_groups: pd.DataFrame | None = None) -> str:
    """The report's landing text (reStructuredText), generated from the run's tables: the
    answer first (which decoder wins, by how much, and whether it survives the time-respecting
    test), then every decoder side by side, the raster network beside the neural-image one,
    the null animal, the blank and gabor-epoch drift controls (``drift_groups``: their group
    tests) and the caveats of this run."""
    split = config["decoding"]["split"]
    mode = config["decoding"]["ps_modes"][0]
    null = list(config["controls"]["null_sessions"])
    source = config["source"]
    main = summary[(summary.analysis == "main") & (summary.control == "none")
                   & (summary.split == split)]
    within = main[(main.task == "within") & ~main.session.isin(null)]
    net = within[(within.inputs == "neural_image") & (within.ps_mode == mode)]
    pretrained = sorted({str(v).lower() for v in net.pretrained.dropna()})
    lines = [
        "Decoding natural vs artificial stimuli (natural scenes vs static gratings) from mouse "
        "visual cortex through neural images (Iqbal et al., IJCNN 2019), run by nidecode.",
        "",
        f"**Data**: source ``{source}`` ({config.get('results_label', '')}), sessions "
        f"{', '.join(config['sessions'])}"
        + (f"; null animal{'s' if len(null) > 1 else ''} {', '.join(null)} (units blind to "
           "the stimulus)" if null else "") + ".",
        "",
        f"**Answer**: {verdict(summary, groups, null, split)}",
        "",
    ]
    rows = decoder_comparison(summary, groups, null, split)
    if rows:
        def f(x: float, fmt: str = ".3f") -> str:
            return "–" if pd.isna(x) else format(x, fmt)

        folds = sorted({int(x) for x in net.fold.dropna()}) or [0]
        lines += [f"**Every decoder** ({split} split, ``{mode}`` mode, accuracy, chance 0.5; "
                  "mean over the animals with stimulus information; every number comes from "
                  "results/summary.csv and results/group_tests.csv):", ""]
        def p_cell(r: dict) -> str:
            if pd.isna(r["p_group"]):
                return "**not tested**"
            return f(r["p_group"], ".2g") + (
                f" (smallest possible with {_animals(r['n_group'])}: {r['p_floor']:.2g})"
                if r["p_floor"] > ALPHA else "")

        # The null animal's column only where the run has one.
        lines += _rst_table(
            ["decoder", f"within animal, fold {', '.join(map(str, folds))} (same trials)",
             "within animal, all its folds", "across animals",
             "time-respecting test across animals (p)"]
            + (["null animal, block / trial split"] if null else []),
            [[r["label"], f(r["same"]), f(r["all"]) + ("" if r["n_folds"] > 1 else
                                                        " (fold 0)"),
              f(r["cross"]), p_cell(r)]
             + ([f"{f(r['null_block'])} / {f(r['null_trial'])}"] if null else [])
             for r in rows])
    raster = main[(main.task == "within") & (main.inputs == "raster")]
    if len(raster):
        pairs = []
        for s_, d in raster.groupby("session"):
            n = net[(net.session == s_) & net.fold.isin(d.fold)]
            pairs.append(f"{s_}: raster images {d.accuracy.mean():.3f}, neural images "
                         + (f"{n.accuracy.mean():.3f}" if len(n) else "not run"))
        lines += ["* **The paper's raster variant** (one trial's 10 ms counts as the image, the "
                  "same network and folds) beside the neural images: " + "; ".join(pairs)
                  + ". Where the raster images decode as well, neural images add nothing.", ""]
    arch = sorted({str(a) for a in net.arch.dropna()})
    regimes = sorted({regime(r) for r in net[["finetune", "pretrained"]].to_dict("records")})
    if arch:
        lines += [f"* The network: {', '.join(ARCH_NAMES.get(a, a) for a in arch)}, "
                  f"{', '.join(regimes)} (pretrained weights loaded: "
                  f"{'/'.join(pretrained) or 'n/a'}).", ""]
    for s_ in null:
        n = summary[(summary.session == s_) & (summary.control == "none")]
        r = n[(n.analysis == "readout-paper") & (n.split == split)]
        nets = n[(n.task == "within") & (n.analysis == "main") & (n.inputs == "neural_image")]
        both = "; ".join(
            f"network ``{m}`` mode: " + ", ".join(
                f"{sp} split {d[d.split == sp].accuracy.mean():.2f}"
                for sp in sorted(set(d.split.dropna())))
            for m, d in nets.groupby("ps_mode"))
        readout = ("the top-stimulus readout of its ``paper``-mode images (the published "
                   f"recipe) {r.accuracy.mean():.2f}, the leak of a trial's own stimulus into "
                   "its image") if len(r) else ""
        lines.append(f"* **Null animal {s_}**: "
                     + ("; ".join(x for x in (both, readout) if x)
                        or "neither the network nor the top-stimulus readout ran on it") + ".")
    splits = [split] + [s for s in config["decoding"]["compare_splits"] if s != split]
    lines += [blanks_through_main_line(summary, s, null) for s in splits]
    lines += [x for x in (null_cross_line(summary, split, null),) if x]
    lines += [blank_control_line(summary, s, null) for s in splits]
    lines += drift_control_lines(summary, drift_groups, null)
    caveats = []
    if source == "simulated":
        caveats.append("**simulated data**: they test the method, not mouse cortex")
    if "false" in pretrained:
        caveats.append("some networks trained without ImageNet weights (``pretrained: "
                       "false`` in their metrics)")
    caveats.append(f"``{split}`` split" + (": whole stimulus blocks held out; the trials of a "
                                           "test block still share its drift (the blank "
                                           "control measures what time and context give)"
                                           if split == "block"
                                           else ": random trials, inflated by slow drift"))
    caveats.append(f"``{mode}`` mode" + (" (leak-free preferred stimuli)" if mode == "train"
                                         else " (the published, leaky recipe)"))
    caveats.append("Wilson intervals, binomial and label-shuffle p-values assume independent "
                   "trials, which drifting trials are not; only ``p_time`` and the group test "
                   "respect slow drift")
    lines += ["", "**Caveats of this run**: " + "; ".join(caveats) + ".", "",
              "Figures and tables: in the menu (Figures, Tables); how to read them: "
              "docs/how-to-read-results.md in the repository."]
    return "\n".join(lines) + "\n"
