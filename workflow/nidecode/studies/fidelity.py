"""How close the simulator is to Allen: the same quantities on simulated sessions as Allen
published for real ones (benchmarks/fidelity.py prints the table, docs/simulation.md holds it).

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
# same function on both (benchmarks/fidelity.py --real FOLDER prints the table).


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
    slow variance of 30-s and 120-s bins."""
    from nidecode.data.gabors import condition_residuals
    from nidecode.jobs.drift_control import drift_control_session

    counts = np.asarray(epoch.counts, dtype=float)
    res = condition_residuals(counts, epoch.condition)
    probe = {split: drift_control_session(epoch, split, {"glm": {"C": 1.0}},
                                          max_relabellings=0)[0]["mean_balanced_accuracy"]
             for split in ("trial", "block")}
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


def block_unit_statistics(scene_counts: np.ndarray, frame: np.ndarray,
                          grating_counts: np.ndarray, gratings: pd.DataFrame) -> pd.DataFrame:
    """Allen's per-unit metrics under natural scenes and static gratings from spike counts in
    each 250 ms presentation (presentations x units): mean rates over every presentation of
    each stimulus (blanks included, as Allen's ``firing_rate_ns``/``_sg``), lifetime
    sparseness over the 118 scenes and the 120 grating conditions, image selectivity, gOSI at
    the preferred spatial frequency and phase, and the Fano factor at the preferred condition.
    ``frame``: scene per presentation (-1 blank); ``gratings``: orientation,
    spatial_frequency, phase per grating presentation (NaN blank)."""
    sc, gc = np.asarray(scene_counts, float), np.asarray(grating_counts, float)
    shown = frame >= 0
    per_scene = pd.DataFrame(sc[shown]).groupby(frame[shown]).mean().to_numpy().T
    g = gratings.reset_index(drop=True)
    ok = g.orientation.notna().to_numpy()
    keys = g[ok][["orientation", "spatial_frequency", "phase"]].round(4)
    per_cond = pd.DataFrame(gc[ok]).groupby([keys.orientation.to_numpy(),
                                             keys.spatial_frequency.to_numpy(),
                                             keys.phase.to_numpy()]).mean()
    cond = per_cond.index.to_frame(index=False)
    cond.columns = ["orientation", "spatial_frequency", "phase"]
    gosi = np.full(sc.shape[1], np.nan)
    for u in range(sc.shape[1]):
        best = cond.iloc[int(np.argmax(per_cond.iloc[:, u].to_numpy()))]
        at = ((cond.spatial_frequency == best.spatial_frequency)
              & (cond.phase == best.phase)).to_numpy()
        gosi[u] = global_osi(per_cond.iloc[:, u].to_numpy()[at][None, :],
                             cond.orientation.to_numpy()[at])[0]
    cond_id = np.unique(keys.astype(str).agg("|".join, axis=1), return_inverse=True)[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({
            "firing_rate_ns": sc.mean(0) / 0.25, "firing_rate_sg": gc.mean(0) / 0.25,
            "lifetime_sparseness_ns": lifetime_sparseness(per_scene),
            "lifetime_sparseness_sg": lifetime_sparseness(per_cond.to_numpy().T),
            "image_selectivity_ns": image_selectivity(per_scene), "g_osi_sg": gosi,
            "fano_ns": preferred_fano(sc[shown], frame[shown]),
            "fano_sg": preferred_fano(gc[ok], cond_id)})
