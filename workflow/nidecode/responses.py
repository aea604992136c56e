"""Per-trial responses: rates, baseline subtraction and z-scoring (the paper's ``R_it``).

``R_it = (rate_it - mu_i) / sigma_i`` where ``rate_it`` is unit i's mean rate during
presentation t and ``mu_i``, ``sigma_i`` are the mean and SD of the unit's baseline rate:

* ``pre_onset`` (the paper's recipe, default): the rate in the 200 ms before each onset. In
  Allen's back-to-back protocol that window lies inside the previous presentation, so it is
  not a stimulus-free baseline; the attrs say so.
* ``spontaneous``: the rate in consecutive 250 ms windows of the grey-screen blocks.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np
import xarray as xr

from . import __version__
from .errors import BaselineError, UnitSelectionError
from .nwb import AllenSession, running_speed_per_presentation
from .stimuli import stimulus_index

# AllenSDK's UNIT_FILTER_DEFAULTS.
ALLEN_UNIT_FILTERS = {
    "amplitude_cutoff_max": 0.1,
    "presence_ratio_min": 0.95,
    "isi_violations_max": 0.5,
    "quality": "good",
}


@dataclass(frozen=True)
class ResponseSettings:
    """How responses are computed; every field is recorded in the output's attrs."""

    areas: tuple[str, ...] = ("VISp",)
    filters: dict = field(default_factory=lambda: dict(ALLEN_UNIT_FILTERS))
    baseline: str = "pre_onset"  # or "spontaneous"
    baseline_window_s: float = 0.2
    zero_sd_units: str = "error"  # or "drop"
    time_bin_s: float | None = None  # keep per-bin counts for raster images when set
    require_running_speed: bool = True


def select_units(session: AllenSession, areas: tuple[str, ...], filters: dict) -> np.ndarray:
    """Boolean mask over ``session.units``: in ``areas`` and passing Allen's quality filters."""
    u = session.units
    in_area = u["area"].isin(areas).to_numpy()
    if not in_area.any():
        found = u["area"].value_counts().to_dict()
        raise UnitSelectionError(
            f"{session.path}: no units in areas {list(areas)} (units per area here: {found}). "
            "Set responses.areas in the config to areas this session recorded."
        )
    ok = np.ones(len(u), dtype=bool)
    if filters:
        col = u.get("amplitude_cutoff")
        if col is not None and "amplitude_cutoff_max" in filters:
            ok &= (col <= filters["amplitude_cutoff_max"]).to_numpy()
        col = u.get("presence_ratio")
        if col is not None and "presence_ratio_min" in filters:
            ok &= (col >= filters["presence_ratio_min"]).to_numpy()
        col = u.get("isi_violations")
        if col is not None and "isi_violations_max" in filters:
            ok &= (col <= filters["isi_violations_max"]).to_numpy()
        if filters.get("quality"):
            ok &= (u["quality"] == filters["quality"]).to_numpy()
    mask = in_area & ok
    if not mask.any():
        raise UnitSelectionError(
            f"{session.path}: all {int(in_area.sum())} units in {list(areas)} fail the quality "
            f"filters {filters}. Relax responses.filters in the config (or set it to {{}})."
        )
    return mask


def spike_counts(spike_times: list[np.ndarray], start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Spikes of each unit in [start, stop) of each window: (n_windows, n_units) int."""
    out = np.empty((len(start), len(spike_times)), dtype=np.int64)
    for k, st in enumerate(spike_times):
        out[:, k] = np.searchsorted(st, stop, side="left") - np.searchsorted(st, start, side="left")
    return out


def binned_counts(
    spike_times: list[np.ndarray], start: np.ndarray, duration: float, bin_s: float
) -> np.ndarray:
    """Counts in consecutive bins after each onset: (n_windows, n_bins, n_units) int16."""
    n_bins = int(round(duration / bin_s))
    edges = start[:, None] + np.arange(n_bins + 1)[None, :] * bin_s
    out = np.empty((len(start), n_bins, len(spike_times)), dtype=np.int16)
    for k, st in enumerate(spike_times):
        c = np.searchsorted(st, edges, side="left")
        out[:, :, k] = np.diff(c, axis=1)
    return out


def baseline_rates(
    session: AllenSession, spikes: list[np.ndarray], start: np.ndarray, settings: ResponseSettings
) -> tuple[np.ndarray, str]:
    """Baseline rate samples (n_windows, n_units) in Hz, and a description of the windows."""
    w = settings.baseline_window_s
    if settings.baseline == "pre_onset":
        desc = (
            f"pre_onset: rate in the {w * 1000:g} ms before each onset (inside the previous "
            "presentation when presentations run back to back)"
        )
        return spike_counts(spikes, start - w, start) / w, desc
    spont = session.spontaneous
    win = 0.25
    starts = (
        np.concatenate(
            [
                np.arange(a, b - win + 1e-9, win)
                for a, b in zip(spont.start_time, spont.stop_time, strict=True)
            ]
        )
        if len(spont)
        else np.array([])
    )
    if len(starts) < 2:
        raise BaselineError(
            f"{session.path}: no spontaneous (grey-screen) block long enough for a baseline. "
            "Set responses.baseline: pre_onset in the config."
        )
    desc = f"spontaneous: rate in {len(starts)} consecutive 250 ms windows of grey screen"
    return spike_counts(spikes, starts, starts + win) / win, desc


def compute_responses(
    session: AllenSession,
    stimuli: xr.Dataset,
    settings: ResponseSettings,
    animal: str,
    source: str,
) -> xr.Dataset:
    """Labelled per-trial responses of the selected units to gratings and natural scenes.

    Returns a Dataset with ``rate`` and ``response`` (presentation, unit) float32, optional
    ``counts`` (presentation, time_bin, unit) and the coordinates of DESIGN §4. Blank
    presentations are dropped (their number is in attrs).
    """
    mask = select_units(session, settings.areas, settings.filters)
    units = session.units[mask]
    spikes = [s for s, m in zip(session.spike_times, mask, strict=True) if m]

    p = session.presentations
    blank = (p["stimulus_name"] == "natural_scenes") & (p["frame"] < 0)
    blank |= (p["stimulus_name"] == "static_gratings") & p["orientation"].isna()
    p = p[~blank].reset_index(drop=True)
    start, stop = p["start_time"].to_numpy(), p["stop_time"].to_numpy()
    duration = stop - start

    rate = spike_counts(spikes, start, stop) / duration[:, None]
    base, base_desc = baseline_rates(session, spikes, start, settings)
    mu, sd = base.mean(axis=0), base.std(axis=0, ddof=1)
    zero = sd == 0
    dropped: list[int] = []
    if zero.any():
        bad = units.index[zero].tolist()
        if settings.zero_sd_units != "drop":
            raise BaselineError(
                f"{session.path}: units {bad[:10]}{' ...' if len(bad) > 10 else ''} have zero "
                f"baseline SD ({settings.baseline} baseline), so their z-scores would be inf/NaN. "
                "Set responses.zero_sd_units: drop in the config to leave them out."
            )
        dropped = [int(b) for b in bad]
        keep = ~zero
        if not keep.any():
            raise UnitSelectionError(f"{session.path}: every selected unit has zero baseline SD")
        units, rate, mu, sd = units[keep], rate[:, keep], mu[keep], sd[keep]
        spikes = [s for s, k in zip(spikes, keep, strict=True) if k]
    response = (rate - mu) / sd

    idx = stimulus_index(
        stimuli,
        p["stimulus_name"].to_numpy(),
        p["frame"].to_numpy(),
        p["orientation"].to_numpy(),
        p["spatial_frequency"].to_numpy(),
        p["phase"].to_numpy(),
    )
    if (idx < 0).any():
        j = int(np.flatnonzero(idx < 0)[0])
        raise ValueError(
            f"{session.path}: presentation {p['presentation_id'][j]} (stimulus_presentation_id) "
            "shows a stimulus that is not in stimuli.nc; rerun render_stimuli"
        )
    running = running_speed_per_presentation(session, start, stop, settings.require_running_speed)

    coords = {
        "presentation": np.arange(len(p)),
        # AllenSDK's stimulus_presentation_id (unique in the session; see
        # nwb.allen_presentation_ids) and the row id in the NWB intervals table.
        "presentation_id": ("presentation", p["presentation_id"].to_numpy().astype(np.int64)),
        "nwb_row_id": ("presentation", p["nwb_row_id"].to_numpy().astype(np.int64)),
        "stimulus_block": ("presentation", p["stimulus_block"].to_numpy().astype(np.int64)),
        "stimulus_name": ("presentation", p["stimulus_name"].to_numpy().astype(str)),
        "stimulus_class": (
            "presentation",
            np.where(p["stimulus_name"] == "natural_scenes", "natural", "artificial"),
        ),
        "stimulus_index": ("presentation", idx),
        "orientation": ("presentation", p["orientation"].to_numpy()),
        "spatial_frequency": ("presentation", p["spatial_frequency"].to_numpy()),
        "phase": ("presentation", p["phase"].to_numpy()),
        "frame": ("presentation", p["frame"].fillna(-1).to_numpy().astype(np.int64)),
        "start_time": ("presentation", start),
        "running_speed": ("presentation", running),
        "unit_id": ("unit", units.index.to_numpy()),
        "area": ("unit", units["area"].to_numpy().astype(str)),
        "baseline_mean": ("unit", mu.astype(np.float32)),
        "baseline_sd": ("unit", sd.astype(np.float32)),
    }
    for col in (
        "quality",
        "isi_violations",
        "amplitude_cutoff",
        "presence_ratio",
        "snr",
        "firing_rate",
    ):
        if col in units:
            vals = units[col].to_numpy()
            coords[col] = ("unit", vals.astype(str) if col == "quality" else vals)
    data = {
        "rate": (("presentation", "unit"), rate.astype(np.float32)),
        "response": (("presentation", "unit"), response.astype(np.float32)),
    }
    if settings.time_bin_s:
        dur = float(np.median(duration))
        data["counts"] = (
            ("presentation", "time_bin", "unit"),
            binned_counts(spikes, start, dur, settings.time_bin_s),
        )
        coords["time_bin"] = np.arange(int(round(dur / settings.time_bin_s))) * settings.time_bin_s
    attrs = {
        "session_id": session.session_id,
        "animal": animal,
        "source": source,
        "nwb_file": str(session.path),
        "nwb_description": session.description,
        "baseline": base_desc,
        "baseline_method": settings.baseline,
        "unit_filters": json.dumps(settings.filters),
        "areas": json.dumps(list(settings.areas)),
        "zero_sd_units_dropped": json.dumps(dropped),
        "n_blank_presentations_dropped": int(blank.sum()),
        "settings": json.dumps(asdict(settings)),
        "software": f"nidecode {__version__}",
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)
