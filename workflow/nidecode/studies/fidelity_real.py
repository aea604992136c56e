"""The simulator against real Allen sessions: the same statistics computed by the same code on
real recordings (a folder in the gabor-epoch exchange format, :mod:`nidecode.data.gabors`) and
on simulated sessions read back from their NWB files (``benchmarks/fidelity.py --real``,
docs/simulation.md, "Fidelity against real sessions").

Three groups of rows:

* the time-label probe (:func:`nidecode.jobs.drift_control.drift_control_session`, GLM) per
  session, both splits;
* slow drift of the gabor epoch's condition-removed counts (:func:`drift_statistics`): the
  per-unit relative excess variance of binned means beyond Poisson (:func:`excess_variance`),
  the shared fraction (:func:`shared_fraction`) and the autocorrelation of binned residuals
  (:func:`autocorrelation`);
* unit statistics under natural scenes and static gratings with AllenSDK's definitions
  (``allensdk/brain_observatory/ecephys/stimulus_analysis``; :func:`lifetime_sparseness`,
  :func:`image_selectivity`, :func:`g_osi`, :func:`fano_factor`, :func:`overall_firing_rate`),
  computed on simulated sessions (:func:`session_unit_metrics`) and read from Allen's
  ``units.csv.gz`` for the real ones.

Each distribution row gives the simulated median, the real median and interquartile range and
the two-sample Kolmogorov-Smirnov statistic (:func:`compare`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from nidecode.data.gabors import GaborEpoch, condition_residuals

DRIFT_BINS_S = (30.0, 120.0)
ACF_BIN_S = 30.0
ACF_LAGS_S = (30.0, 60.0, 120.0, 300.0)
MIN_FILL = 0.9  # a time bin holding fewer presentations than this fraction of the fullest: out
MIN_MEAN_COUNT = 0.1  # spikes per 250-ms presentation (0.4 Hz): units below it are left out of
# the drift statistics (their binned means are mostly Poisson noise)
TRIAL_S = 0.25  # AllenSDK's trial_duration for natural scenes and static gratings
RATE_OFFSET_HZ = 0.1  # the log-ratio ln((ns + 0.1) / (sg + 0.1))
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
UNIT_COLUMNS = ("firing_rate_ns", "firing_rate_sg", "log_ratio", "lifetime_sparseness_ns",
                "lifetime_sparseness_sg", "image_selectivity_ns", "g_osi_sg", "fano_ns",
                "fano_sg")


# ------------------------------------------------------------------------------- slow drift


def time_bins(t: np.ndarray, bin_s: float, min_fill: float = MIN_FILL
              ) -> tuple[np.ndarray, np.ndarray]:
    """Bin index of each time (``floor((t - t.min()) / bin_s)``) and the bins kept: those
    holding at least ``min_fill`` times the count of the fullest bin (the epoch's last,
    partial bin drops out)."""
    t = np.asarray(t, dtype=float)
    b = np.floor((t - t.min()) / bin_s).astype(np.int64)
    n = np.bincount(b)
    return b, np.flatnonzero(n >= min_fill * n.max())


def binned_means(x: np.ndarray, t: np.ndarray, bin_s: float, min_fill: float = MIN_FILL
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Mean of each column of ``x`` (presentations x units) in each kept time bin
    (:func:`time_bins`): (bins, units) means and the presentations per bin."""
    x = np.asarray(x, dtype=float)
    b, kept = time_bins(t, bin_s, min_fill)
    sums = np.zeros((b.max() + 1, x.shape[1]))
    np.add.at(sums, b, x)
    n = np.bincount(b)
    return sums[kept] / n[kept, None], n[kept]


def excess_variance(counts: np.ndarray, condition: np.ndarray, t: np.ndarray, bin_s: float,
                    min_fill: float = MIN_FILL) -> np.ndarray:
    """Per unit, the relative variance of its slow rate beyond Poisson:

        (var_b(m_b) - mean_b(mu / n_b)) / mu^2

    ``m_b``: the mean condition-removed count (:func:`nidecode.data.gabors.condition_residuals`)
    in time bin b of ``bin_s`` seconds; ``n_b`` its presentations; ``mu`` the unit's mean count
    per presentation; var with ddof 1 over the kept bins. A Poisson unit of constant rate gives
    about 0 (slightly less: removing the condition means takes 1/15 of the variance with 15
    repeats); a unit whose rate is multiplied by a slow gain g(t) gives about var(g) over bins.
    NaN where ``mu`` is 0."""
    counts = np.asarray(counts, dtype=float)
    m, n = binned_means(condition_residuals(counts, condition), t, bin_s, min_fill)
    mu = counts.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ex = (m.var(axis=0, ddof=1) - np.mean(1.0 / n) * mu) / mu**2
    return np.where(mu > 0, ex, np.nan)


def shared_fraction(binned: np.ndarray) -> float:
    """Fraction of the variance of the binned residuals (bins x units) on their first principal
    component, each unit z-scored over bins first (the largest eigenvalue of the units'
    correlation matrix over its trace). Units constant over bins are left out; NaN with fewer
    than two units left."""
    x = np.asarray(binned, dtype=float)
    sd = x.std(axis=0)
    x = x[:, sd > 0]
    if x.shape[1] < 2:
        return float("nan")
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    ev = np.linalg.eigvalsh(np.cov(z, rowvar=False))
    return float(ev[-1] / ev.sum())


def autocorrelation(x: np.ndarray, lags: tuple[int, ...] | list[int]) -> np.ndarray:
    """Sample autocorrelation of each column of ``x`` (time x series) at integer ``lags``:
    r(k) = sum_t (x_t - xbar)(x_{t+k} - xbar) / sum_t (x_t - xbar)^2 (the usual biased
    estimator). (len(lags), series); NaN for a constant series or a lag beyond its length."""
    x = np.asarray(x, dtype=float)
    one = x.ndim == 1
    x = x[:, None] if one else x
    d = x - x.mean(axis=0)
    den = (d**2).sum(axis=0)
    out = np.full((len(lags), x.shape[1]), np.nan)
    for i, k in enumerate(lags):
        if k < len(x):
            with np.errstate(divide="ignore", invalid="ignore"):
                out[i] = (d[: len(x) - k] * d[k:]).sum(axis=0) / den
    out[:, den == 0] = np.nan
    return out[:, 0] if one else out


def drift_statistics(epoch: GaborEpoch, min_mean: float = MIN_MEAN_COUNT) -> dict:
    """Slow-drift statistics of one gabor epoch (its units as given): per unit (units with a
    mean count of at least ``min_mean`` per presentation) the relative excess variance at each
    of :data:`DRIFT_BINS_S` and the autocorrelation of its 30-s binned relative residuals
    (``m_b / mu``) at :data:`ACF_LAGS_S`; per session the shared fraction of the 30-s and
    120-s binned residuals."""
    counts = np.asarray(epoch.counts, dtype=float)
    keep = counts.mean(axis=0) >= min_mean
    counts = counts[:, keep]
    out: dict = {"n_units": int(keep.sum())}
    if counts.shape[1] == 0:
        return out
    for bin_s in DRIFT_BINS_S:
        out[f"excess_var_{bin_s:g}s"] = excess_variance(counts, epoch.condition,
                                                        epoch.start_time, bin_s)
        m, _ = binned_means(condition_residuals(counts, epoch.condition), epoch.start_time,
                            bin_s)
        out[f"shared_fraction_{bin_s:g}s"] = shared_fraction(m)
    m, _ = binned_means(condition_residuals(counts, epoch.condition), epoch.start_time,
                        ACF_BIN_S)
    acf = autocorrelation(m / counts.mean(axis=0), [int(round(lag / ACF_BIN_S))
                                                     for lag in ACF_LAGS_S])
    for lag, r in zip(ACF_LAGS_S, acf, strict=True):
        out[f"acf_{lag:g}s"] = r
    return out


# ---------------------------------------------------------------- unit statistics (AllenSDK's)


def lifetime_sparseness(responses: np.ndarray) -> float:
    """AllenSDK's lifetime sparseness (Vinje & Gallant 2000; stimulus_analysis.py) of one
    unit's mean responses r_1..r_N to the N non-blank conditions:
    (1 - (sum r)^2 / (N sum r^2)) / (1 - 1/N). 0: equal responses to all; 1: one condition."""
    r = np.asarray(responses, dtype=float)
    if len(r) <= 1 or not np.any(r):
        return float("nan")
    return float((1 - r.sum() ** 2 / (len(r) * (r**2).sum())) / (1 - 1 / len(r)))


def image_selectivity(means: np.ndarray, num_steps: int = 1000) -> float:
    """AllenSDK's image selectivity (natural_scenes.py, after Quian Quiroga et al. 2007) of one
    unit's mean responses to the non-blank images: thresholds T_j = min + j (max - min) /
    num_steps, j = 0..num_steps-1; 1 - 2 x the mean over j of the fraction of images whose mean
    exceeds T_j."""
    m = np.asarray(means, dtype=float)
    thresh = m.min() + np.arange(num_steps) * ((m.max() - m.min()) / num_steps)
    return float(1 - 2 * np.mean((m[None, :] > thresh[:, None]).mean(axis=1)))


def g_osi(orientation_deg: np.ndarray, tuning: np.ndarray) -> float:
    """AllenSDK's global orientation selectivity (stimulus_analysis.osi, Ringach et al. 2002):
    |sum_theta R(theta) exp(2 i theta)| / sum_theta R(theta); NaN when the sum is 0."""
    r = np.asarray(tuning, dtype=float)
    if r.sum() == 0:
        return float("nan")
    theta = np.deg2rad(np.asarray(orientation_deg, dtype=float))
    return float(np.abs((r * np.exp(2j * theta)).sum()) / r.sum())


def fano_factor(counts: np.ndarray) -> float:
    """var / mean (numpy's var, ddof 0) of spike counts; NaN when the mean is 0."""
    c = np.asarray(counts, dtype=float)
    return float(c.var() / c.mean()) if c.mean() > 0 else float("nan")


def stimulus_blocks(start: np.ndarray, stop: np.ndarray, trial_s: float = TRIAL_S
                    ) -> tuple[np.ndarray, np.ndarray]:
    """AllenSDK's blocks of a stimulus (``_get_overall_firing_rate``): a new block wherever
    consecutive onsets are more than 2 x ``trial_s`` apart; start of its first and stop of its
    last presentation."""
    start, stop = np.asarray(start, dtype=float), np.asarray(stop, dtype=float)
    order = np.argsort(start, kind="stable")
    start, stop = start[order], stop[order]
    gap = np.flatnonzero(np.diff(start) > 2 * trial_s)
    return start[np.r_[0, gap + 1]], stop[np.r_[gap, len(start) - 1]]


def overall_firing_rate(block_start: np.ndarray, block_stop: np.ndarray,
                        spike_times: np.ndarray) -> float:
    """Spikes inside the blocks over their summed duration (AllenSDK's overall_firing_rate)."""
    st = np.asarray(spike_times)
    n = np.sum(np.searchsorted(st, block_stop) - np.searchsorted(st, block_start))
    return float(n / np.sum(np.asarray(block_stop) - np.asarray(block_start)))


def unit_metrics(counts: np.ndarray, table: pd.DataFrame, spikes: list[np.ndarray],
                 suffix: str) -> pd.DataFrame:
    """AllenSDK's metrics of each unit for one stimulus: ``counts`` (presentations x units) in
    [start, start + 0.25 s) of each row of ``table`` (``start_time``, ``stop_time`` and
    ``frame`` for natural scenes, suffix "ns"; ``orientation``, ``spatial_frequency``,
    ``phase`` for static gratings, "sg"; blanks: frame -1 or orientation NaN).

    ``firing_rate``: :func:`overall_firing_rate` over :func:`stimulus_blocks`; the preferred
    condition: the largest mean count over the non-blank conditions; ``fano`` at it;
    ``lifetime_sparseness`` over the non-blank condition means; ns: ``image_selectivity``; sg:
    ``g_osi`` over the six orientations at the preferred spatial frequency and phase (each the
    one with the largest mean count over every condition sharing it).
    """
    counts = np.asarray(counts, dtype=float)
    if suffix == "ns":
        keys = table[["frame"]].to_numpy(float)
        blank = keys[:, 0] < 0
    else:
        keys = table[["orientation", "spatial_frequency", "phase"]].to_numpy(float)
        blank = np.isnan(keys[:, 0])
    cond, inv = np.unique(keys[~blank], axis=0, return_inverse=True)
    inv = inv.ravel()
    c = counts[~blank]
    means = np.zeros((len(cond), c.shape[1]))
    np.add.at(means, inv, c)
    means /= np.bincount(inv)[:, None]
    b0, b1 = stimulus_blocks(table.start_time.to_numpy(), table.stop_time.to_numpy())
    rows = []
    for u in range(c.shape[1]):
        pref = int(np.argmax(means[:, u]))
        row = {f"firing_rate_{suffix}": overall_firing_rate(b0, b1, spikes[u]),
               f"lifetime_sparseness_{suffix}": lifetime_sparseness(means[:, u]),
               f"fano_{suffix}": fano_factor(c[inv == pref, u])}
        if suffix == "ns":
            row["image_selectivity_ns"] = image_selectivity(means[:, u])
        else:
            sf_vals, sf_inv = np.unique(cond[:, 1], return_inverse=True)
            ph_vals, ph_inv = np.unique(cond[:, 2], return_inverse=True)
            sf = sf_vals[np.argmax([means[sf_inv == k, u].mean() for k in range(len(sf_vals))])]
            ph = ph_vals[np.argmax([means[ph_inv == k, u].mean() for k in range(len(ph_vals))])]
            at = (cond[:, 1] == sf) & (cond[:, 2] == ph)
            row["g_osi_sg"] = g_osi(cond[at, 0], means[at, u])
        rows.append(row)
    return pd.DataFrame(rows)


def session_unit_metrics(session, mask: np.ndarray) -> pd.DataFrame:
    """:func:`unit_metrics` for natural scenes and static gratings of the units ``mask`` of a
    session read by :func:`nidecode.data.nwb.read_session` (valid presentations only), with the
    log ratio ln((firing_rate_ns + 0.1) / (firing_rate_sg + 0.1))."""
    from nidecode.data.responses import invalid_presentation_mask, spike_counts

    spikes = session.unit_spikes(mask)
    parts = []
    for name, suffix in (("natural_scenes", "ns"), ("static_gratings", "sg")):
        t = session.presentations
        t = t[t.stimulus_name == name]
        t = t[~invalid_presentation_mask(session, t)].sort_values("start_time")
        start = t.start_time.to_numpy(float)
        parts.append(unit_metrics(spike_counts(spikes, start, start + TRIAL_S), t, spikes,
                                  suffix))
    out = pd.concat(parts, axis=1)
    out["log_ratio"] = log_ratio(out.firing_rate_ns, out.firing_rate_sg)
    return out


def log_ratio(ns, sg) -> np.ndarray:
    """ln((ns + 0.1) / (sg + 0.1)) of rates in Hz."""
    return np.log((np.asarray(ns, float) + RATE_OFFSET_HZ) / (np.asarray(sg, float)
                                                               + RATE_OFFSET_HZ))


def real_units(folder, areas: tuple[str, ...] = ("VISp",), filters: dict | None = None
               ) -> pd.DataFrame:
    """Allen's per-unit metrics of a real folder (``units.csv.gz``): units in ``areas`` passing
    ``filters`` (AllenSDK's names), with the log ratio added."""
    from nidecode.data.gabors import UNIT_FILTER_COLUMNS, unit_table

    u = unit_table(folder)
    keep = u["ecephys_structure_acronym"].isin(areas).to_numpy().copy()
    for key, value in (filters or {}).items():
        if key == "quality":
            keep &= (u["quality"] == value).to_numpy()
        elif key in UNIT_FILTER_COLUMNS:
            col, op = UNIT_FILTER_COLUMNS[key]
            v = u[col].to_numpy(float)
            keep &= (v <= value) if op == "le" else (v >= value)
    u = u[keep].copy()
    u["log_ratio"] = log_ratio(u.firing_rate_ns, u.firing_rate_sg)
    return u


# ------------------------------------------------------------------------------- comparison


def compare(simulated, real) -> dict:
    """One distribution row: medians, the real interquartile range, whether the simulated
    median lies inside it, and the two-sample KS statistic (NaNs left out)."""
    s = np.asarray(simulated, dtype=float)
    r = np.asarray(real, dtype=float)
    s, r = s[np.isfinite(s)], r[np.isfinite(r)]
    q25, q50, q75 = np.quantile(r, [0.25, 0.5, 0.75])
    sm = float(np.median(s))
    return {"sim_median": sm, "real_median": float(q50), "real_q25": float(q25),
            "real_q75": float(q75), "inside": bool(q25 <= sm <= q75),
            "ks": float(stats.ks_2samp(s, r).statistic), "n_sim": len(s), "n_real": len(r)}


def summary(values) -> dict:
    """Mean and :data:`QUANTILES` of per-session values (NaNs left out)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return {"mean": float(v.mean()), "n": len(v),
            **{f"q{round(q * 100)}": float(np.quantile(v, q)) for q in QUANTILES}}
