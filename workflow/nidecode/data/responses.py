"""Per-trial responses: rates, baseline subtraction and z-scoring (the paper's ``R_it``).

``R_it = (rate_it - mu_i) / sigma_i`` where ``rate_it`` is unit i's mean rate during
presentation t and ``mu_i``, ``sigma_i`` are the mean and SD of the unit's baseline rate:

* ``pre_onset`` (the paper's recipe, default): the rate in the 200 ms before each onset. In
  Allen's back-to-back protocol that window lies inside the previous presentation, so it is
  not a stimulus-free baseline; the attrs say so.
* ``spontaneous``: the rate in consecutive 250 ms windows of the grey-screen blocks.

As AllenSDK does, presentations (and grey-screen blocks) that overlap an ``invalid_times``
interval tagged "stimulus" are left out, and units on channels with ``valid_data == False`` are
left out when the NWB file is read (:mod:`.nwb`); the counts are in the output's attrs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from nidecode import __version__
from nidecode.common.errors import BaselineError, NidecodeError, UnitSelectionError
from nidecode.data.nwb import (
    ALL_PROBES_INVALID_TAG,
    STIMULUS_INVALID_TAG,
    AllenSession,
    filter_invalid_times_by_tags,
    overlaps_intervals,
    running_speed_per_presentation,
)
from nidecode.data.stimuli import (
    GRATING_ORIENTATIONS,
    GRATING_PHASES,
    GRATING_SPATIAL_FREQUENCIES,
    N_NATURAL_SCENES,
    Canvas,
    stimulus_index,
)

log = logging.getLogger(__name__)

# AllenSDK's UNIT_FILTER_DEFAULTS.
ALLEN_UNIT_FILTERS = {
    "amplitude_cutoff_max": 0.1,
    "presence_ratio_min": 0.95,
    "isi_violations_max": 0.5,
    "quality": "good",
}
# responses.baseline and responses.zero_sd_units (the schema's enums; tests/test_allowed_values.py).
BASELINES = ("pre_onset", "spontaneous")
ZERO_SD_UNITS = ("error", "drop")


class StaleStimuliError(NidecodeError):
    """The rendered stimuli file does not match the configuration or the session's stimuli."""


RERUN_STIMULI = (
    "It was rendered from another stimulus configuration (or by an older version): delete it "
    "(rm {path}) and rerun render_stimuli (snakemake --forcerun render_stimuli), then this rule."
)


def check_stimuli(
    stimuli: xr.Dataset,
    path: str | Path,
    canvas: Canvas | None = None,
    allen_scenes: bool | None = None,
) -> None:
    """Raise StaleStimuliError unless ``stimuli`` (read from ``path``) is what the config renders.

    Checks the image size against ``canvas`` (config ``stimuli.height``/``width``), that all
    120 gratings and 118 scenes are there and, when ``allen_scenes`` is given (config source
    "allen"), that the scenes are Allen's templates (else the packaged stand-ins), as recorded
    by render_stimuli in the ``natural_scene_source`` attribute (skipped where it is absent).
    """
    problems = []
    if canvas is not None:
        shape = (int(stimuli.sizes.get("y", -1)), int(stimuli.sizes.get("x", -1)))
        if shape != (canvas.height, canvas.width):
            problems.append(
                f"its images are {shape[0]} x {shape[1]} px but the config's stimuli.height x "
                f"stimuli.width is {canvas.height} x {canvas.width}"
            )
    recorded = stimuli.attrs.get("natural_scene_source")
    if allen_scenes is not None and recorded is not None:
        if str(recorded).startswith("allen") != allen_scenes:
            wanted = "Allen's templates" if allen_scenes else "the packaged stand-in scenes"
            problems.append(
                f"its natural scenes are from {recorded!r} but the config's source needs {wanted}"
            )
    names = stimuli["stimulus_name"].values.astype(str) if "stimulus_name" in stimuli else []
    n_grating, n_scene = (
        int(np.sum(names == "static_gratings")),
        int(np.sum(names == "natural_scenes")),
    )
    n_grating_expected = (
        len(GRATING_ORIENTATIONS) * len(GRATING_SPATIAL_FREQUENCIES) * len(GRATING_PHASES)
    )
    if (n_grating, n_scene) != (n_grating_expected, N_NATURAL_SCENES):
        problems.append(
            f"it holds {n_grating} static gratings and {n_scene} natural scenes, not "
            f"{n_grating_expected} and {N_NATURAL_SCENES}"
        )
    if problems:
        raise StaleStimuliError(
            f"{path}: stale stimuli file: {'; '.join(problems)}. " + RERUN_STIMULI.format(path=path)
        )


def _describe_stimulus(row) -> str:
    if row["stimulus_name"] == "natural_scenes":
        frame = row["frame"]
        return f"natural_scenes frame {'null' if np.isnan(frame) else int(frame)}"
    return (
        f"static_gratings orientation {row['orientation']:g}, spatial_frequency "
        f"{row['spatial_frequency']:g}, phase {row['phase']:g}"
    )


@dataclass(frozen=True)
class ResponseSettings:
    """How responses are computed; every field is recorded in the output's attrs.

    The defaults are the schema's (``responses``; tests/test_allowed_values.py checks them).
    """

    areas: tuple[str, ...] = ("VISp",)
    filters: dict = field(default_factory=lambda: dict(ALLEN_UNIT_FILTERS))
    baseline: str = "pre_onset"  # or "spontaneous"
    baseline_window_s: float = 0.2
    zero_sd_units: str = "error"  # or "drop"
    time_bin_s: float | None = 0.01  # keep per-bin counts for raster images; None: off
    require_running_speed: bool = True

    def __post_init__(self) -> None:
        for name, allowed in (("baseline", BASELINES), ("zero_sd_units", ZERO_SD_UNITS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, not {getattr(self, name)!r}")

    @classmethod
    def from_config(cls, config: dict) -> ResponseSettings:
        """From the ``responses`` section."""
        r = config["responses"]
        return cls(areas=tuple(r["areas"]), filters=dict(r["filters"]), baseline=r["baseline"],
                   baseline_window_s=r["baseline_window_s"], zero_sd_units=r["zero_sd_units"],
                   time_bin_s=r["time_bin_s"], require_running_speed=r["require_running_speed"])


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


def stimulus_invalid_times(session: AllenSession):
    """The session's invalid intervals that invalidate stimulus presentations (tag "stimulus")."""
    return filter_invalid_times_by_tags(session.invalid_times, [STIMULUS_INVALID_TAG])


def invalid_presentation_mask(session: AllenSession, table) -> np.ndarray:
    """Rows of a presentations table that AllenSDK masks as "invalid_presentation".

    Mirrors AllenSDK's ``EcephysSession._mask_invalid_stimulus_presentations``
    (allensdk/brain_observatory/ecephys/ecephys_session.py): the invalid_times rows tagged
    "stimulus" (``_filter_invalid_times_by_tags(["stimulus"])``; intervals tagged only with a
    probe name or "all_probes" mask no presentation) and every presentation whose
    [start_time, stop_time] overlaps one of them, endpoints included (``_overlap``). AllenSDK
    renames such a presentation "invalid_presentation" and blanks its parameters; here it is
    dropped (its parameters, hence its stimulus, are unknown).
    """
    return overlaps_intervals(
        table["start_time"].to_numpy(),
        table["stop_time"].to_numpy(),
        stimulus_invalid_times(session),
    )


def valid_spontaneous(session: AllenSession):
    """Grey-screen blocks that AllenSDK does not mask (see :func:`invalid_presentation_mask`)."""
    spont = session.spontaneous
    return spont[~invalid_presentation_mask(session, spont)]


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
    spont = valid_spontaneous(session)
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


def _intervals_json(intervals) -> str:
    return json.dumps(
        [
            [float(a), float(b), list(t)]
            for a, b, t in zip(
                intervals["start_time"], intervals["stop_time"], intervals["tags"], strict=True
            )
        ]
    )


def compute_responses(
    session: AllenSession,
    stimuli: xr.Dataset,
    settings: ResponseSettings,
    animal: str,
    source: str,
    stimuli_path: str | Path | None = None,
) -> xr.Dataset:
    """Labelled per-trial responses of the selected units to gratings and natural scenes.

    Returns a Dataset with ``rate`` and ``response`` (presentation, unit) float32, optional
    ``counts`` (presentation, time_bin, unit) and the coordinates of docs/method.md §1.
    Presentations overlapping an invalid interval tagged "stimulus" are dropped first
    (AllenSDK masks them; see :func:`invalid_presentation_mask`), then blank presentations;
    both numbers are in attrs, with the units read_session left out for an invalid peak
    channel.

    The valid blanks (grey screen inside the gratings and scenes blocks) are kept apart, on
    their own dimension ``blank``: ``blank_rate`` and ``blank_response`` (blank, unit) float32,
    z-scored with the same per-unit baseline as ``response``, and the coordinates
    ``blank_presentation_id``, ``blank_stimulus_block``, ``blank_stimulus_name`` (the block's
    stimulus) and ``blank_start_time``; zero-sized where a session has no blanks.

    ``stimuli_path`` names the stimuli file in errors (default: the file ``stimuli`` was read
    from). Raises StaleStimuliError when a presentation's stimulus is not in ``stimuli``.
    """
    if stimuli_path is None:
        stimuli_path = stimuli.encoding.get("source", "results/stimuli.nc")
    mask = select_units(session, settings.areas, settings.filters)
    units = session.units[mask]
    # Only the selected units' spikes are read from the file (10^8 spikes in a real session).
    spikes = session.unit_spikes(mask)

    p = session.presentations
    invalid = invalid_presentation_mask(session, p)
    blank = (p["stimulus_name"] == "natural_scenes") & (p["frame"] < 0)
    blank |= (p["stimulus_name"] == "static_gratings") & p["orientation"].isna()
    blank = blank.to_numpy() & ~invalid  # a masked blank counts as masked, as in AllenSDK
    n_spont_invalid = int(len(session.spontaneous) - len(valid_spontaneous(session)))
    n_stim_invalid_times = len(stimulus_invalid_times(session))
    log.info(
        "%s: %d of %d presentations overlap the %d invalid_times interval(s) tagged '%s' and are "
        "dropped (AllenSDK masks them); %d grey-screen block(s) masked likewise",
        session.path,
        int(invalid.sum()),
        len(p),
        n_stim_invalid_times,
        STIMULUS_INVALID_TAG,
        n_spont_invalid,
    )
    spike_invalid = filter_invalid_times_by_tags(
        session.invalid_times, [*session.probe_names, ALL_PROBES_INVALID_TAG]
    )
    if len(spike_invalid):  # AllenSDK's EcephysSession._warn_invalid_spike_intervals
        log.warning(
            "%s: %d invalid_times interval(s) tagged with a probe or '%s' (spikes in them are "
            "invalid; presentations there are kept, as in AllenSDK): %s",
            session.path,
            len(spike_invalid),
            ALL_PROBES_INVALID_TAG,
            _intervals_json(spike_invalid),
        )
    if session.units_invalid_channel:
        log.info(
            "%s: %d unit(s) left out because their peak channel has valid_data == False",
            session.path,
            len(session.units_invalid_channel),
        )
    # Blanks (grey screen inside the blocks) keep their own dimension: the blank-presentation
    # control (nidecode.jobs.blank_control) decodes block kind from them; the main dimension is
    # unchanged by their presence.
    blanks = p[blank].reset_index(drop=True)
    p = p[~invalid & ~blank].reset_index(drop=True)
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
        units, rate, mu, sd, base = units[keep], rate[:, keep], mu[keep], sd[keep], base[:, keep]
        spikes = [s for s, k in zip(spikes, keep, strict=True) if k]
    response = (rate - mu) / sd
    # The blanks' z-scores use the presentations' baseline (same mu, sd, same units).
    b_start, b_stop = blanks["start_time"].to_numpy(), blanks["stop_time"].to_numpy()
    blank_rate = spike_counts(spikes, b_start, b_stop) / (b_stop - b_start)[:, None]
    blank_response = (blank_rate - mu) / sd

    idx = stimulus_index(
        stimuli,
        p["stimulus_name"].to_numpy(),
        p["frame"].to_numpy(),
        p["orientation"].to_numpy(),
        p["spatial_frequency"].to_numpy(),
        p["phase"].to_numpy(),
    )
    if (idx < 0).any():
        missing = np.flatnonzero(idx < 0)
        j = int(missing[0])
        raise StaleStimuliError(
            f"{stimuli_path}: stale stimuli file: presentation {int(p['presentation_id'][j])} "
            f"(stimulus_presentation_id) of {session.path} shows {_describe_stimulus(p.iloc[j])}, "
            f"which is not in it ({len(missing)} of {len(p)} presentations affected). "
            + RERUN_STIMULI.format(path=stimuli_path)
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
        "blank": np.arange(len(blanks)),
        "blank_presentation_id": (
            "blank", blanks["presentation_id"].to_numpy().astype(np.int64)
        ),
        "blank_stimulus_block": ("blank", blanks["stimulus_block"].to_numpy().astype(np.int64)),
        "blank_stimulus_name": ("blank", blanks["stimulus_name"].to_numpy().astype(str)),
        "blank_start_time": ("blank", b_start.astype(np.float64)),
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
        "blank_rate": (("blank", "unit"), blank_rate.astype(np.float32)),
        "blank_response": (("blank", "unit"), blank_response.astype(np.float32)),
    }
    if settings.baseline == "pre_onset":
        # Each presentation's own baseline window, so that decoders reading W can z-score with
        # the training blocks' windows only (variants.Selection.training_response).
        data["baseline_rate"] = (("presentation", "unit"), base.astype(np.float32))
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
        # Left out of ``presentation``; they are the ``blank`` dimension.
        "n_blank_presentations_dropped": int(blank.sum()),
        # AllenSDK's masking of invalid presentations and of units on invalid channels.
        "n_presentations_invalid_masked": int(invalid.sum()),
        "n_spontaneous_invalid_masked": n_spont_invalid,
        "invalid_times": _intervals_json(session.invalid_times),
        "n_units_invalid_channel_dropped": len(session.units_invalid_channel),
        "units_invalid_channel_dropped": json.dumps(list(session.units_invalid_channel)),
        "settings": json.dumps(asdict(settings)),
        "software": f"nidecode {__version__}",
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)
