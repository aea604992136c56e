"""How close the simulator is to Allen: the same quantities on simulated sessions as Allen
published for real ones (benchmarks/studies/fidelity.py prints the table, docs/simulation.md
holds it).

Every Allen value here is printed in AllenSDK's example notebooks or derived from printed
numbers by arithmetic stated in :data:`ALLEN`; nothing is read off a figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import svm
from sklearn.model_selection import KFold

NB = "AllenInstitute/AllenSDK doc_template/examples_root/examples/nb/"


@dataclass(frozen=True)
class Published:
    """One published Allen number and where it is printed."""

    value: float | tuple[float, ...]
    what: str
    source: str


ALLEN = {
    "quickstart_folds": Published(
        (0.414, 0.497, 0.497, 0.507, 0.473),
        "natural-scene identity (118 scenes + blank, chance 0.0084), RBF SVC on the spike "
        "counts of the 93 VISp units passing the default filters, KFold(5) unshuffled; "
        "session 791319847",
        NB + "ecephys_quickstart.ipynb (accuracies printed per fold)"),
    "units_passing_filters": Published(
        40_010 / 99_180,
        "fraction of units passing the default filters (40,010 of 99,180, all 58 sessions)",
        NB + "ecephys_quality_metrics.ipynb and ecephys_data_access.ipynb"),
    "visp_rate_scenes_hz": Published(
        1_224_681 / (93 * 5950 * 0.25),
        "mean rate of those 93 VISp units during natural-scene presentations: 1,224,681 "
        "spikes printed for 93 units x 5,950 presentations of 0.25 s (derived)",
        NB + "ecephys_quickstart.ipynb"),
    "presence_ratio_above_0.9": Published(
        0.83, "fraction of all 99,180 units with presence_ratio > 0.9",
        NB + "ecephys_quality_metrics.ipynb"),
    "isi_violations_zero": Published(
        0.14, "fraction of all 99,180 units with isi_violations == 0",
        NB + "ecephys_quality_metrics.ipynb"),
    "scene_presentations": Published(
        5950.0, "natural-scene presentations in one session (118 scenes + blank, 50 each)",
        NB + "ecephys_quickstart.ipynb (design matrix of 5,950 rows)"),
}


def quickstart_accuracies(counts: np.ndarray, frames: np.ndarray, n_splits: int = 5
                          ) -> np.ndarray:
    """AllenSDK quick-start's scene decoder, per fold: an RBF SVC (``gamma="scale"``) on spike
    counts (presentations in time order x units) predicting ``frames`` (blank = -1 is a class),
    with ``KFold(n_splits)`` unshuffled, so each fold tests a contiguous stretch of time.
    Accuracy is the fraction of test presentations predicted exactly, as the notebook has it.
    """
    counts = np.asarray(counts, dtype=float)
    frames = np.asarray(frames)
    out = []
    for train, test in KFold(n_splits=n_splits).split(counts):
        clf = svm.SVC(gamma="scale", kernel="rbf")
        clf.fit(counts[train], frames[train])
        out.append(float(np.mean(clf.predict(counts[test]) == frames[test])))
    return np.array(out)


def presentations_with_spikes(counts: np.ndarray) -> np.ndarray:
    """Rows the quick-start keeps: its pivot table has only presentations in which at least one
    of the units spiked."""
    return np.asarray(counts).sum(axis=1) > 0


# ----------------------------------------------------------------- real sessions, same code
# The real anchors (a folder of real Allen sessions in the gabor-epoch exchange format, see
# nidecode.data.gabors) against simulated sessions: each statistic below is computed by the
# same function on both (benchmarks/studies/fidelity.py --real FOLDER prints the table).


def lifetime_sparseness(mean_responses: np.ndarray) -> np.ndarray:
    """Vinje & Gallant's lifetime sparseness of each row (a unit's mean response to each
    condition), as AllenSDK computes it: (1 - (sum r / n)^2 / (sum r^2 / n)) / (1 - 1 / n);
    0 = equal responses to every condition, 1 = a response to one only. NaN for a silent unit."""
    r = np.asarray(mean_responses, dtype=float)
    n = r.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (1 - (r.sum(1) / n) ** 2 / ((r**2).sum(1) / n)) / (1 - 1 / n)


def image_selectivity(mean_responses: np.ndarray, n_steps: int = 1000) -> np.ndarray:
    """AllenSDK's image selectivity of each row (a unit's mean response to each scene):
    1 - 2 A, A the mean over ``n_steps`` thresholds spaced evenly from the smallest to the
    largest response of the fraction of scenes above the threshold (AllenSDK's
    ``NaturalScenes._get_image_selectivity``). Near 1: few scenes drive the unit."""
    r = np.asarray(mean_responses, dtype=float)
    lo, hi = r.min(1, keepdims=True), r.max(1, keepdims=True)
    steps = np.arange(n_steps) / n_steps
    out = np.empty(len(r))
    for u in range(len(r)):
        thresh = lo[u] + steps * (hi[u] - lo[u])
        out[u] = 1 - 2 * (r[u][None, :] > thresh[:, None]).mean()
    return out


def global_osi(tuning: np.ndarray, orientations_deg: np.ndarray) -> np.ndarray:
    """Global orientation selectivity |sum R(theta) e^{2i theta}| / sum R(theta) of each row
    (a unit's mean response to each orientation at its preferred other parameters)."""
    r = np.asarray(tuning, dtype=float)
    z = np.exp(2j * np.deg2rad(np.asarray(orientations_deg, dtype=float)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(r @ z) / r.sum(1)


def preferred_fano(counts: np.ndarray, condition: np.ndarray) -> np.ndarray:
    """Fano factor (variance, ddof 0, / mean of spike counts across repeats) of each unit at the
    condition with its largest mean count. ``counts``: presentations x units."""
    counts = np.asarray(counts, dtype=float)
    ids, inv = np.unique(condition, return_inverse=True)
    out = np.full(counts.shape[1], np.nan)
    for u in range(counts.shape[1]):
        means = np.bincount(inv, counts[:, u], len(ids)) / np.bincount(inv, minlength=len(ids))
        c = counts[inv == int(np.argmax(means)), u]
        if c.mean() > 0 and len(c) > 1:
            out[u] = c.var() / c.mean()  # np.var (ddof 0), as AllenSDK's fano factor
    return out


def binned_means(residuals: np.ndarray, start_time: np.ndarray, bin_s: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Mean of each unit's residual counts in consecutive ``bin_s`` windows of the epoch:
    (bins x units) and the presentations per bin. Bins with no presentation are dropped."""
    edges = np.arange(start_time.min(), start_time.max() + bin_s, bin_s)
    b = np.clip(np.searchsorted(edges, start_time, side="right") - 1, 0, len(edges) - 2)
    n = np.bincount(b, minlength=len(edges) - 1)
    sums = np.zeros((len(edges) - 1, residuals.shape[1]))
    np.add.at(sums, b, residuals)
    keep = n > 0
    return sums[keep] / n[keep, None], n[keep]


def excess_slow_variance(counts: np.ndarray, residuals: np.ndarray, start_time: np.ndarray,
                         bin_s: float) -> np.ndarray:
    """Per unit, the variance of its ``bin_s`` binned mean residual count beyond what Poisson
    counts give (mean count / presentations per bin), over the squared mean count: the squared
    coefficient of variation of slow rate changes. NaN for units with mean count < 0.05."""
    means, n = binned_means(residuals, start_time, bin_s)
    mu = np.asarray(counts, dtype=float).mean(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (means.var(0, ddof=1) - mu * np.mean(1 / n)) / mu**2
    return np.where(mu >= 0.05, out, np.nan)


def shared_fraction(residuals: np.ndarray, start_time: np.ndarray, bin_s: float = 30.0
                    ) -> float:
    """Fraction of the variance of the z-scored binned residuals (bins x units) on their first
    principal component: how much of the slow change all units share."""
    means, _ = binned_means(residuals, start_time, bin_s)
    sd = means.std(0)
    z = (means[:, sd > 0] - means[:, sd > 0].mean(0)) / sd[sd > 0]
    if z.shape[1] < 2:
        return float("nan")
    s = np.linalg.svd(z, compute_uv=False) ** 2
    return float(s[0] / s.sum())


def residual_autocorrelation(residuals: np.ndarray, start_time: np.ndarray,
                             lags_s: tuple[float, ...] = (30.0, 60.0, 120.0, 300.0),
                             bin_s: float = 30.0) -> dict[float, float]:
    """Autocorrelation of the 30-s binned residuals at each lag, averaged over units."""
    means, _ = binned_means(residuals, start_time, bin_s)
    z = means - means.mean(0)
    var = (z**2).mean(0)
    ok = var > 0
    out = {}
    for lag in lags_s:
        k = int(round(lag / bin_s))
        out[lag] = float(np.mean((z[k:, ok] * z[:-k, ok]).mean(0) / var[ok]))
    return out


def epoch_statistics(epoch) -> tuple[dict, pd.DataFrame]:
    """The gabor-epoch rows of the fidelity table for one session (a
    :class:`nidecode.data.gabors.GaborEpoch`, real or simulated): per session the GLM's
    time-label probe in both splits (the drift control's code, no nulls), the shared fraction
    and the residuals' autocorrelation; per unit the epoch's rate, the between-condition
    variance over its Poisson expectation (position and orientation tuning) and the excess
    slow variance of 30-s and 120-s bins. A session the drift control cannot decode raises
    :class:`nidecode.common.errors.NidecodeError` with its reason."""
    from nidecode.common.errors import NidecodeError
    from nidecode.data.gabors import condition_residuals
    from nidecode.jobs.drift_control import drift_control_session

    counts = np.asarray(epoch.counts, dtype=float)
    res = condition_residuals(counts, epoch.condition)
    probe = {}
    for split in ("trial", "block"):
        row = drift_control_session(epoch, split, {"glm": {"C": 1.0}}, max_relabellings=0)[0]
        if row.get("skipped"):  # e.g. blocks that cannot give the folds: no probe to report
            raise NidecodeError(row["skipped"])
        probe[split] = row["mean_balanced_accuracy"]
    session = {"session": epoch.session, "n_units": counts.shape[1],
               "probe_trial": probe["trial"], "probe_block": probe["block"],
               "shared_fraction_30s": shared_fraction(res, epoch.start_time)}
    session.update({f"autocorrelation_{int(k)}s": v for k, v in
                    residual_autocorrelation(res, epoch.start_time).items()})
    mu = counts.mean(0)
    means = pd.DataFrame(counts).groupby(epoch.condition).mean()
    n_rep = np.bincount(epoch.condition).mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        tuning = means.var(axis=0).to_numpy() / (mu / n_rep)
    units = pd.DataFrame({"session": epoch.session, "gabor_rate_hz": mu / 0.25,
                          "gabor_tuning": np.where(mu > 0, tuning, np.nan),
                          "excess_variance_30s": excess_slow_variance(counts, res,
                                                                      epoch.start_time, 30.0),
                          "excess_variance_120s": excess_slow_variance(counts, res,
                                                                       epoch.start_time, 120.0)})
    return session, units


# Allen's per-unit metrics under natural scenes and static gratings, as ``units.csv.gz`` of a
# gabor-epoch folder holds them (Allen's analysis, or benchmarks/studies/export_gabor.py's).
SCENE_COLUMNS = ("firing_rate_ns", "lifetime_sparseness_ns", "image_selectivity_ns", "fano_ns")
GRATING_COLUMNS = ("firing_rate_sg", "lifetime_sparseness_sg", "g_osi_sg", "fano_sg")
METRIC_COLUMNS = ("firing_rate_ns", "firing_rate_sg", "lifetime_sparseness_ns",
                  "lifetime_sparseness_sg", "image_selectivity_ns", "g_osi_sg", "fano_ns",
                  "fano_sg")


def _no_metrics(columns: tuple[str, ...], n_units: int) -> pd.DataFrame:
    return pd.DataFrame({c: np.full(n_units, np.nan) for c in columns})


def scene_unit_statistics(counts: np.ndarray, frame: np.ndarray) -> pd.DataFrame:
    """Allen's natural-scene metrics of each unit from its spike counts in each 250 ms
    presentation (presentations x units; ``frame``: scene per presentation, -1 blank): the
    mean rate over every presentation (blanks included, as Allen's ``firing_rate_ns``),
    lifetime sparseness and image selectivity over the scenes, the Fano factor at the
    preferred scene. NaN where no scene is shown."""
    sc, frame = np.asarray(counts, float), np.asarray(frame)
    shown = frame >= 0
    if not shown.any():
        return _no_metrics(SCENE_COLUMNS, sc.shape[1])
    per_scene = pd.DataFrame(sc[shown]).groupby(frame[shown]).mean().to_numpy().T
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({"firing_rate_ns": sc.mean(0) / 0.25,
                             "lifetime_sparseness_ns": lifetime_sparseness(per_scene),
                             "image_selectivity_ns": image_selectivity(per_scene),
                             "fano_ns": preferred_fano(sc[shown], frame[shown])})


def grating_unit_statistics(counts: np.ndarray, gratings: pd.DataFrame) -> pd.DataFrame:
    """Allen's static-grating metrics of each unit from its spike counts in each 250 ms
    presentation (presentations x units; ``gratings``: orientation, spatial_frequency, phase
    per presentation, NaN blank): the mean rate over every presentation (blanks included),
    lifetime sparseness over the conditions, gOSI at the preferred spatial frequency and
    phase, the Fano factor at the preferred condition. NaN where no grating is shown."""
    gc = np.asarray(counts, float)
    g = gratings.reset_index(drop=True)
    ok = g.orientation.notna().to_numpy()
    if not ok.any():
        return _no_metrics(GRATING_COLUMNS, gc.shape[1])
    keys = g[ok][["orientation", "spatial_frequency", "phase"]].round(4)
    per_cond = pd.DataFrame(gc[ok]).groupby([keys.orientation.to_numpy(),
                                             keys.spatial_frequency.to_numpy(),
                                             keys.phase.to_numpy()]).mean()
    cond = per_cond.index.to_frame(index=False)
    cond.columns = ["orientation", "spatial_frequency", "phase"]
    gosi = np.full(gc.shape[1], np.nan)
    for u in range(gc.shape[1]):
        best = cond.iloc[int(np.argmax(per_cond.iloc[:, u].to_numpy()))]
        at = ((cond.spatial_frequency == best.spatial_frequency)
              & (cond.phase == best.phase)).to_numpy()
        gosi[u] = global_osi(per_cond.iloc[:, u].to_numpy()[at][None, :],
                             cond.orientation.to_numpy()[at])[0]
    cond_id = np.unique(keys.astype(str).agg("|".join, axis=1), return_inverse=True)[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({"firing_rate_sg": gc.mean(0) / 0.25,
                             "lifetime_sparseness_sg": lifetime_sparseness(per_cond.to_numpy().T),
                             "g_osi_sg": gosi, "fano_sg": preferred_fano(gc[ok], cond_id)})


def block_unit_statistics(scene_counts: np.ndarray, frame: np.ndarray,
                          grating_counts: np.ndarray, gratings: pd.DataFrame) -> pd.DataFrame:
    """Allen's per-unit metrics under natural scenes and static gratings
    (:data:`METRIC_COLUMNS`: :func:`scene_unit_statistics` and
    :func:`grating_unit_statistics`) from spike counts in each 250 ms presentation
    (presentations x units): mean rates over every presentation of each stimulus (blanks
    included, as Allen's ``firing_rate_ns``/``_sg``), lifetime sparseness over the 118 scenes
    and the 120 grating conditions, image selectivity, gOSI at the preferred spatial
    frequency and phase, and the Fano factor at the preferred condition. ``frame``: scene per
    presentation (-1 blank); ``gratings``: orientation, spatial_frequency, phase per grating
    presentation (NaN blank)."""
    return pd.concat([scene_unit_statistics(scene_counts, frame),
                      grating_unit_statistics(grating_counts, gratings)],
                     axis=1)[list(METRIC_COLUMNS)]


def session_block_statistics(session, mask: np.ndarray) -> pd.DataFrame:
    """:func:`block_unit_statistics` of the units where ``mask`` (bool over ``units``) of a
    session read by :func:`nidecode.data.nwb.read_session`, from the session's own
    natural-scene and static-grating presentations outside its stimulus-invalid intervals
    (AllenSDK masks those too), indexed by unit id. The simulated side of the fidelity table
    and ``benchmarks/studies/export_gabor.py`` both compute the metrics here."""
    from nidecode.data.responses import invalid_presentation_mask, spike_counts

    spikes = session.unit_spikes(mask)
    p = session.presentations
    p = p[~invalid_presentation_mask(session, p)]
    ns, sg = (p[p.stimulus_name == n] for n in ("natural_scenes", "static_gratings"))
    out = block_unit_statistics(
        spike_counts(spikes, ns.start_time.to_numpy(), ns.stop_time.to_numpy()),
        ns.frame.fillna(-1).to_numpy(int),
        spike_counts(spikes, sg.start_time.to_numpy(), sg.stop_time.to_numpy()), sg)
    out.index = session.units.index[np.asarray(mask, dtype=bool)]
    return out


# --------------------------------------------------- the real side of the fidelity table


@dataclass
class RealSide:
    """The real sessions of a gabor-epoch folder, as the fidelity table reads them.

    ``sessions``: :func:`epoch_statistics`' row of each session used, with ``visp_units``
    (before the filters); ``units``: its unit rows; ``block``: the :data:`METRIC_COLUMNS` of
    the VISp units those sessions decode (passing the filters), from ``units.csv.gz``;
    ``left_out``: (session, the rows it is left out of, the reason) for each session the
    table does not use in full."""

    sessions: pd.DataFrame
    units: pd.DataFrame
    block: pd.DataFrame
    left_out: list[tuple[str, str, str]]


HALVES = ("fit", "validate")


def session_half(names: list[str], half: str) -> list[str]:
    """One half of a folder's real sessions, by a rule fixed before any fit: the session names
    sorted (numerically where every name is an integer, as Allen's ecephys_session_id), even
    positions (0, 2, ...) the ``"fit"`` half, odd positions the ``"validate"`` half."""
    if half not in HALVES:
        raise ValueError(f"half must be one of {HALVES}, not {half!r}")
    key = (lambda n: (int(n), n)) if all(n.isdigit() for n in names) else (lambda n: (0, n))
    ordered = sorted(names, key=key)
    return ordered[HALVES.index(half)::2]


def real_side(folder, filters: dict | None = None, sessions: list[str] | None = None
              ) -> RealSide:
    """Every session of a gabor-epoch folder (:mod:`nidecode.data.gabors`) through
    :func:`epoch_statistics` on its VISp units passing ``filters`` (default: Allen's), and
    their scene and grating metrics.

    A session :func:`nidecode.data.gabors.load_epoch` cannot use (no VISp unit, too few
    passing the filters, a short or interrupted epoch) is left out of every row; a session
    without scene and grating metrics (a functional_connectivity session shows neither) is
    left out of those rows only. Session names may be any file stem. ``sessions`` (names,
    e.g. :func:`session_half`'s) restricts the folder to those; a name not in it raises
    :class:`nidecode.common.errors.NidecodeError`."""
    from nidecode.common.errors import NidecodeError
    from nidecode.data.gabors import epoch_sessions, load_epoch, session_units, unit_table
    from nidecode.data.responses import ALLEN_UNIT_FILTERS

    filters = dict(ALLEN_UNIT_FILTERS) if filters is None else filters
    table = unit_table(folder)
    names = epoch_sessions(folder)
    if sessions is not None:
        missing = sorted(set(sessions) - set(names))
        if missing:
            raise NidecodeError(f"{folder}: no gabor epoch for session(s) {', '.join(missing)}")
        names = [n for n in names if n in set(sessions)]
    sessions, units, block, left_out = [], [], [], []
    for name in names:
        epoch = load_epoch(folder, name, ("VISp",), filters, table)
        if epoch.skipped:
            left_out.append((name, "every row", epoch.skipped))
            continue
        try:
            s, u = epoch_statistics(epoch)
        except NidecodeError as err:  # e.g. a block structure the probe's folds cannot split
            left_out.append((name, "every row", str(err)))
            continue
        own = session_units(table, name)
        s["visp_units"] = int((own.ecephys_structure_acronym == "VISp").sum())
        sessions.append(s)
        units.append(u)
        metrics = own.set_index("ecephys_unit_id").reindex(epoch.unit_ids).reindex(
            columns=list(METRIC_COLUMNS))
        if metrics.isna().all().all():
            left_out.append((name, "the scene and grating rows", "no natural-scene or "
                             "static-grating metrics (firing_rate_ns/_sg, sparseness, image "
                             "selectivity, gOSI, Fano empty; a functional_connectivity "
                             "session shows neither)"))
            continue
        block.append(metrics.astype(float).reset_index(drop=True))
    return RealSide(pd.DataFrame(sessions), _frames(units), _frames(block, METRIC_COLUMNS),
                    left_out)


def _frames(parts: list[pd.DataFrame], columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """``parts`` stacked; an empty table with ``columns`` where there are none."""
    return (pd.concat(parts, ignore_index=True) if parts
            else pd.DataFrame({c: np.zeros(0) for c in columns}))


def comparison_row(group: str, what: str, real: pd.Series, sim: pd.Series) -> dict:
    """One row of the fidelity table: quartiles of the real and the simulated values, the
    KS distance and whether the simulated median lies inside the real IQR. A side without
    values (NaN dropped) has n 0 and NaN statistics; ``inside_iqr`` is then None."""
    from scipy.stats import ks_2samp

    r = pd.Series(real, dtype=float).dropna().to_numpy()
    s = pd.Series(sim, dtype=float).dropna().to_numpy()
    rq = np.percentile(r, [25, 50, 75]) if len(r) else np.full(3, np.nan)
    sq = np.percentile(s, [25, 50, 75]) if len(s) else np.full(3, np.nan)
    both = bool(len(r) and len(s))
    return {"group": group, "statistic": what, "real_n": len(r), "real_q25": rq[0],
            "real_median": rq[1], "real_q75": rq[2], "sim_n": len(s), "sim_q25": sq[0],
            "sim_median": sq[1], "sim_q75": sq[2],
            "ks": ks_2samp(r, s).statistic if both else np.nan,
            "inside_iqr": bool(rq[0] <= sq[1] <= rq[2]) if both else None}


def halves_markdown(fit: pd.DataFrame, validate: pd.DataFrame, every: pd.DataFrame) -> str:
    """The fidelity table on the fit half, the validation half and every real session side by
    side (three :func:`comparison_row` tables of the same simulated sessions), in Markdown:
    the three real sides, the simulated side, the KS statistics and the verdicts."""
    def q(r, side: str) -> str:
        return (f"{r[side + '_median']:.3g} [{r[side + '_q25']:.3g}, {r[side + '_q75']:.3g}] "
                f"({int(r[side + '_n'])})")

    def yn(inside: bool) -> str:
        return "yes" if inside else "**no**"

    lines = ["| | statistic | real, fit half | real, validation half | real, all 32 | simulated "
             "(9 animals) | KS fit / validation / all | inside the real IQR: fit / validation "
             "/ all |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for i in range(len(fit)):
        f, v, a = fit.iloc[i], validate.iloc[i], every.iloc[i]
        lines.append(f"| ({f.group}) | {f.statistic} | {q(f, 'real')} | {q(v, 'real')} | "
                     f"{q(a, 'real')} | {q(a, 'sim')} | {f.ks:.2f} / {v.ks:.2f} / {a.ks:.2f} | "
                     f"{yn(f.inside_iqr)} / {yn(v.inside_iqr)} / {yn(a.inside_iqr)} |")
    return "\n".join(lines)


def comparison_markdown(table: pd.DataFrame) -> str:
    """The fidelity table (:func:`comparison_row` rows) in Markdown; a side without values
    reads "no real data" / "no simulated data"."""
    def side(r, which: str, empty: str) -> str:
        if not getattr(r, f"{which}_n"):
            return empty
        return (f"{getattr(r, f'{which}_median'):.3g} [{getattr(r, f'{which}_q25'):.3g}, "
                f"{getattr(r, f'{which}_q75'):.3g}] ({getattr(r, f'{which}_n')})")

    lines = ["| | statistic | real median [IQR] (n) | simulated median [IQR] (n) | KS | "
             "simulated median inside the real IQR |", "| --- | --- | --- | --- | --- | --- |"]
    for r in table.itertuples():
        verdict = ("no real data" if not r.real_n else "no simulated data" if not r.sim_n
                   else "yes" if r.inside_iqr else "**no**")
        ks = "" if r.ks != r.ks else f"{r.ks:.2f}"
        lines.append(f"| ({r.group}) | {r.statistic} | {side(r, 'real', 'no real data')} | "
                     f"{side(r, 'sim', 'no simulated data')} | {ks} | {verdict} |")
    return "\n".join(lines)


# The drift rows of the fidelity table (comparison_row order) and their keys in the records of
# benchmarks/studies/drift_fit.py.
DRIFT_ROW_KEYS = ("probe_trial", "probe_block", "excess_variance_30s", "excess_variance_120s",
                  "shared_fraction_30s", "autocorrelation_30s", "autocorrelation_60s",
                  "autocorrelation_120s", "autocorrelation_300s")


def grid_scores(points: list[dict], fit: pd.DataFrame) -> list[tuple[int, float]]:
    """Each grid setting's score under the drift fit's rule (docs/simulation.md): the number
    of drift rows whose simulated median lies inside the fit half's real IQR, and the distance
    sum over those rows of |simulated - real median| / real IQR. ``points``: records of
    ``drift_fit.py --out`` ({"point", "medians"}); ``fit``: the fit half's table, whose first
    rows are the drift rows in :data:`DRIFT_ROW_KEYS` order."""
    real = fit.iloc[:len(DRIFT_ROW_KEYS)]
    scores = []
    for p in points:
        inside, distance = 0, 0.0
        for key, r in zip(DRIFT_ROW_KEYS, real.itertuples(), strict=True):
            m = p["medians"][key]
            inside += bool(r.real_q25 <= m <= r.real_q75)
            distance += abs(m - r.real_median) / (r.real_q75 - r.real_q25)
        scores.append((inside, distance))
    return scores


def grid_choice(scores: list[tuple[int, float]]) -> int:
    """The index of the rule's choice among :func:`grid_scores`: the most drift rows inside,
    then the smallest distance."""
    return min(range(len(scores)), key=lambda i: (-scores[i][0], scores[i][1]))


def grid_markdown(points: list[dict], fit: pd.DataFrame, names: dict[str, str]) -> str:
    """The drift fit's grid in Markdown, one row per setting in the order run: the setting
    (``names``: AnimalSpec field -> its config name), its :func:`grid_scores`, the block-split
    probe and the four autocorrelations. The rule's choice (most rows inside, then the
    smallest distance) in bold."""
    scores = grid_scores(points, fit)
    best = grid_choice(scores)
    lines = ["| setting | drift rows inside the fit half's IQR | distance | probe, block split "
             "| autocorrelation at 30 s / 60 s / 120 s / 300 s |",
             "| --- | --- | --- | --- | --- |"]
    for i, (p, (inside, distance)) in enumerate(zip(points, scores, strict=True)):
        m = p["medians"]
        setting = ", ".join(f"`{names.get(k, k)}` {v:g}" for k, v in p["point"].items())
        cells = [setting or "the default then", f"{inside} of {len(DRIFT_ROW_KEYS)}",
                 f"{distance:.2f}"]
        if i == best:
            cells = [f"**{c}**" for c in cells]
        ac = " / ".join(f"{m[f'autocorrelation_{s}s']:.3f}" for s in (30, 60, 120, 300))
        lines.append(f"| {' | '.join(cells)} | {m['probe_block']:.3f} | {ac} |")
    return "\n".join(lines)
