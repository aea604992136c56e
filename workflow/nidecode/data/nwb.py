"""Read Allen Visual Coding Neuropixels NWB files (brain_observatory_1.1) with h5py alone.

No AllenSDK: the tables are read straight from the HDF5 layout that Allen's files and the
simulator share, which keeps the main environment free of AllenSDK's old pins.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from nidecode.common.errors import NWBReadError, RunningSpeedError, SessionTypeError

STIMULUS_BLOCKS = ("static_gratings", "natural_scenes")
PRESENTATION_COLUMNS = (
    "stimulus_name",
    "stimulus_block",
    "orientation",
    "spatial_frequency",
    "phase",
    "contrast",
    "frame",
)
# The gabor epoch's per-presentation columns (AllenSDK's gabors presentations).
GABOR_TABLE_COLUMNS = ("x_position", "y_position", "orientation")
QUALITY_COLUMNS = (
    "quality",
    "isi_violations",
    "amplitude_cutoff",
    "presence_ratio",
    "snr",
    "firing_rate",
)
# AllenSDK's invalid_times tag for "very long frames make any stimulus-locked analysis
# invalid" (EcephysSession.get_invalid_times); the only tag that masks presentations.
STIMULUS_INVALID_TAG = "stimulus"
# AllenSDK's tag for gain fluctuations on every probe (spikes and LFP invalid, not stimuli).
ALL_PROBES_INVALID_TAG = "all_probes"


def empty_invalid_times() -> pd.DataFrame:
    """An invalid-times table with no rows (a file without ``intervals/invalid_times``)."""
    return pd.DataFrame(
        {"start_time": np.zeros(0), "stop_time": np.zeros(0), "tags": pd.Series([], dtype=object)}
    )


@dataclass
class AllenSession:
    """The parts of one session the workflow uses.

    ``units``: one row per unit (index ``unit_id``) with ``area`` and Allen's quality metrics.
    ``spike_times``: per unit (same order as ``units``), sorted spike times in seconds. From
    :func:`read_session` a :class:`SpikeTimes`, which reads them from the file only when asked
    (a real session holds some 10^8 spikes): ask for the units needed with
    :meth:`unit_spikes`. A plain list of arrays works too.
    ``presentations``: static-grating and natural-scene presentations in time order, with
    Allen's columns (numeric parameters as float, NaN where Allen writes "null"),
    ``stimulus_block`` as int64 (Allen's session-wide block number; -1 where the file has none),
    ``presentation_id``: AllenSDK's ``stimulus_presentation_id`` (see
    :func:`allen_presentation_ids`) and ``nwb_row_id``: the row's id in its NWB intervals table.
    ``spontaneous``: start/stop of grey-screen blocks (may be empty), with the same two ids.
    ``running_t``/``running_speed``: running speed samples (None if the file has none).
    ``invalid_times``: ``intervals/invalid_times`` as start_time, stop_time and ``tags`` (a tuple
    of strings per interval, e.g. ``("EcephysSession", "7150", "stimulus")``); no rows when the
    file has none. Nothing is masked here: see :func:`filter_invalid_times_by_tags` and
    :func:`overlaps_intervals`.
    ``probe_names``: the electrode groups (Allen's probe names, e.g. "probeA").
    ``units_invalid_channel``: ids of the units left out of ``units`` because their peak
    channel has ``valid_data == False`` in the electrodes table (AllenSDK leaves them out too).
    ``gabors``: the gabor epoch's presentations (``intervals/gabors_presentations``:
    start/stop, ``x_position``, ``y_position``, ``orientation``, ``presentation_id``), or None
    when the file has no such table with those columns (:mod:`nidecode.data.gabors`).
    """

    path: Path
    session_id: str
    description: str
    units: pd.DataFrame
    spike_times: SpikeTimes | list[np.ndarray]
    presentations: pd.DataFrame
    spontaneous: pd.DataFrame
    running_t: np.ndarray | None
    running_speed: np.ndarray | None
    invalid_times: pd.DataFrame = field(default_factory=empty_invalid_times)
    probe_names: tuple[str, ...] = ()
    units_invalid_channel: tuple[int, ...] = ()
    gabors: pd.DataFrame | None = None

    def unit_spikes(self, mask: np.ndarray) -> list[np.ndarray]:
        """Sorted spike times of the units where ``mask`` (bool over ``units``) is True.

        Only those units' spikes are read from the file (see :meth:`SpikeTimes.select`).
        """
        if isinstance(self.spike_times, SpikeTimes):
            return self.spike_times.select(mask)
        mask = np.asarray(mask, dtype=bool)
        if len(mask) != len(self.spike_times):
            raise ValueError(f"mask has {len(mask)} entries for {len(self.spike_times)} units")
        return [s for s, m in zip(self.spike_times, mask, strict=True) if m]


def _sorted(spikes: np.ndarray) -> np.ndarray:
    """``spikes`` itself when already in order (Allen's are), else a sorted copy."""
    if len(spikes) < 2 or bool(np.all(spikes[1:] >= spikes[:-1])):
        return spikes
    return np.sort(spikes)


class SpikeTimes(Sequence):
    """Per-unit spike times of an NWB file's ``units`` table, read from the file on demand.

    Holds only the small ``units/spike_times_index`` bounds of the units kept by
    :func:`read_session` (those on invalid channels are left out): a unit's spikes are read,
    and sorted if the file does not hold them in order, each time they are asked for.
    :meth:`select` reads several units at once, one h5py read per run of units that lie next
    to each other in the file, so memory holds the selected units' spikes and nothing else.
    ``spikes_read`` counts the spike times read from the file so far.
    """

    def __init__(
        self, path: Path, rows: np.ndarray, starts: np.ndarray, stops: np.ndarray,
        provenance: str = "own",
    ):
        self.path = Path(path)
        self._file = self.path.absolute()  # read from here even if the working directory changes
        self.rows = np.asarray(rows, dtype=np.int64)  # the units' rows in the file's table
        self.starts = np.asarray(starts, dtype=np.int64)
        self.stops = np.asarray(stops, dtype=np.int64)
        self.provenance = provenance
        self.spikes_read = 0
        self._stamp = self._file_stamp()  # the file as read_session read its units table

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self._file.stat()
        except OSError:
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self.select(np.arange(len(self))[key])
        k = range(len(self))[key]  # IndexError and negative indices as a list has them
        return self.select(np.array([k]))[0]

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.select(np.ones(len(self), dtype=bool)))

    def counts(self) -> np.ndarray:
        """Spikes per unit (from the index; nothing is read)."""
        return self.stops - self.starts

    def select(self, which: np.ndarray) -> list[np.ndarray]:
        """Sorted spike times of the units ``which`` picks: a bool mask over the units, or
        their positions (any order; the result follows it)."""
        which = np.asarray(which)
        if which.dtype == bool:
            if len(which) != len(self):
                raise ValueError(f"mask has {len(which)} entries for {len(self)} units")
            pos = np.flatnonzero(which)
        else:
            pos = which.astype(np.int64).ravel()
        if not len(pos):
            return []
        order = np.argsort(pos, kind="stable")
        ordered = pos[order]
        rows = self.rows[ordered]
        # Runs of units adjacent in the file (and in the spike_times dataset): one read each.
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        out: list[np.ndarray | None] = [None] * len(pos)
        path = self.path
        if not self._file.exists():
            raise NWBReadError(missing_file_message(path, self.provenance))
        if self._file_stamp() != self._stamp:  # its units table may no longer be the one read
            raise NWBReadError(
                f"{path}: the file changed after read_session read its units table; read it "
                "again (read_session) before asking for its spike times"
            )
        try:
            f = h5py.File(self._file, "r")
        except OSError as err:
            raise NWBReadError(unreadable_message(path, self.provenance, err)) from None
        try:
            with f:
                data = f["units/spike_times"]
                for run in np.split(np.arange(len(ordered)), breaks):
                    first, last = ordered[run[0]], ordered[run[-1]]
                    a, b = int(self.starts[first]), int(self.stops[last])
                    block = data[a:b]
                    self.spikes_read += b - a
                    for j in run:
                        u = ordered[j]
                        s0, s1 = self.starts[u] - a, self.stops[u] - a
                        out[order[j]] = _sorted(block[s0:s1])
        except (KeyError, OSError, ValueError) as err:
            raise NWBReadError(
                layout_message(
                    f"{path}: spike times of its units could not be read ({err}); the file is "
                    "damaged or changed since it was opened",
                    path,
                    self.provenance,
                )
            ) from None
        return out  # type: ignore[return-value]


def _decode(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in ("O", "S"):
        return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values])
    return values


def _numeric(values: np.ndarray) -> np.ndarray:
    """Allen's stimulus columns mix numbers and the string "null": return floats with NaN."""
    return pd.to_numeric(
        pd.Series(_decode(values)).replace("null", np.nan), errors="coerce"
    ).to_numpy(dtype=float)


def _read_table(group: h5py.Group, columns: tuple[str, ...]) -> pd.DataFrame:
    data = {"start_time": group["start_time"][:], "stop_time": group["stop_time"][:]}
    for col in columns:
        if col not in group:
            data[col] = np.full(len(data["start_time"]), np.nan)
        elif col == "stimulus_name":
            data[col] = _decode(group[col][:])
        else:
            data[col] = _numeric(group[col][:])
    return pd.DataFrame(data)


def allen_presentation_ids(intervals: h5py.Group) -> dict[str, np.ndarray]:
    """AllenSDK's ``stimulus_presentation_id`` of every row of every ``*_presentations`` table.

    Mirrors AllenSDK's ``EcephysSession.stimulus_presentations``, i.e.
    ``EcephysNwbSessionApi.get_stimulus_presentations`` -> ``NwbApi.get_stimulus_presentations``
    (allensdk/brain_observatory/nwb/nwb_api.py; since AllenSDK 2.x via
    ``Presentations.from_nwb`` in .../behavior/data_objects/stimuli/presentations.py): every
    ``intervals/*_presentations`` table (spontaneous, gabors, flashes, ... included) is
    concatenated in the order pynwb lists ``nwbfile.intervals`` (HDF5 name order), sorted by
    ``start_time`` and renumbered 0..N-1 (``sort_values("start_time")`` then
    ``reset_index(drop=True)``); the NWB row ids are discarded. Ties in ``start_time`` (none in
    Allen's files) are broken here by that concatenation order (a stable sort); AllenSDK's
    default quicksort leaves their order unspecified.

    Returns table name -> ids in the table's row order.
    """
    names = sorted(k for k in intervals.keys() if k.endswith("_presentations"))
    starts = [np.asarray(intervals[k]["start_time"][:], dtype=float) for k in names]
    flat = np.concatenate(starts) if starts else np.zeros(0)
    order = np.argsort(flat, kind="stable")
    ids = np.empty(len(flat), dtype=np.int64)
    ids[order] = np.arange(len(flat), dtype=np.int64)
    out, i = {}, 0
    for k, st in zip(names, starts, strict=True):
        out[k] = ids[i : i + len(st)]
        i += len(st)
    return out


def filter_invalid_times_by_tags(invalid_times: pd.DataFrame, tags) -> pd.DataFrame:
    """The invalid intervals carrying any of ``tags`` (exact match against each tag).

    Mirrors AllenSDK's ``EcephysSession._filter_invalid_times_by_tags``
    (allensdk/brain_observatory/ecephys/ecephys_session.py): keep a row when
    ``any(t in row_tags for t in tags)``.
    """
    if invalid_times.empty:
        return invalid_times
    wanted = list(tags)
    keep = [any(t in row for t in wanted) for row in invalid_times["tags"]]
    return invalid_times[np.asarray(keep, dtype=bool)]


def overlaps_intervals(start: np.ndarray, stop: np.ndarray, intervals: pd.DataFrame) -> np.ndarray:
    """Whether each [start, stop] window overlaps any row of ``intervals`` (bool per window).

    Closed intervals, as AllenSDK's ``ecephys_session._overlap``:
    ``max(a0, b0) <= min(a1, b1)``, so a window that merely touches an interval overlaps it.
    """
    start = np.asarray(start, dtype=float)
    stop = np.asarray(stop, dtype=float)
    out = np.zeros(len(start), dtype=bool)
    for b0, b1 in zip(intervals["start_time"], intervals["stop_time"], strict=True):
        out |= np.maximum(start, b0) <= np.minimum(stop, b1)
    return out


def _read_invalid_times(f: h5py.File, path: Path) -> pd.DataFrame:
    """``intervals/invalid_times`` (an NWB TimeIntervals table; ``tags`` is ragged)."""
    if "intervals/invalid_times" not in f:
        return empty_invalid_times()
    g = f["intervals/invalid_times"]
    start = np.asarray(g["start_time"][:], dtype=float)
    stop = np.asarray(g["stop_time"][:], dtype=float)
    n = len(start)
    if "tags" not in g:
        tags: list[tuple[str, ...]] = [()] * n
    else:
        values = [str(v) for v in _decode(g["tags"][:])]
        if "tags_index" in g:
            ends = g["tags_index"][:].astype(np.int64)
            if len(ends) != n or (n and (np.any(np.diff(ends) < 0) or ends[-1] > len(values))):
                raise NWBReadError(
                    f"{path}: intervals/invalid_times has a tags_index that does not match its "
                    f"{n} intervals; the file is damaged"
                )
            bounds = np.concatenate([[0], ends])
            tags = [tuple(values[bounds[k] : bounds[k + 1]]) for k in range(n)]
        else:  # one tag per interval, not ragged
            tags = [(v,) for v in values]
    return pd.DataFrame(
        {"start_time": start, "stop_time": stop, "tags": pd.Series(tags, dtype=object)}
    )


def _valid_flags(values: np.ndarray, path: Path) -> np.ndarray:
    """The electrodes' ``valid_data`` column as bool (stored as bool, 0/1 or text)."""
    if values.dtype.kind == "b":
        return values.astype(bool)
    if values.dtype.kind in "iuf":
        return values != 0
    text = np.char.lower(np.char.strip(_decode(values).astype(str)))
    truthy, falsy = np.isin(text, ("true", "1")), np.isin(text, ("false", "0"))
    if not (truthy | falsy).all():
        bad = sorted(set(text[~(truthy | falsy)].tolist()))[:5]
        raise NWBReadError(
            f"{path}: general/extracellular_ephys/electrodes/valid_data holds {bad}, not "
            "True/False; the file is not in Allen's layout"
        )
    return truthy


def _block_numbers(values: np.ndarray, path: Path, table: str) -> np.ndarray:
    """Allen's ``stimulus_block`` (stored as float or text) as int64; -1 where absent."""
    missing = np.isnan(values)
    if missing.all():
        return np.full(len(values), -1, dtype=np.int64)
    rounded = np.round(values[~missing])
    if missing.any() or not np.allclose(values[~missing], rounded):
        raise NWBReadError(
            f"{path}: intervals/{table}_presentations has stimulus_block values that are not "
            "whole numbers for every presentation; the file is not in Allen's layout"
        )
    return values.astype(np.int64)


# Where a session file came from decides what an error may advise: only files a rule of this
# workflow made may be deleted and made again. A user's own file (config nwb_files or nwb_dir) is
# never called deletable. "own" is the safe default.
PROVENANCES = ("simulated", "allen", "dandi", "own")
# The config's source -> the provenance of its session files.
SOURCE_PROVENANCE = {"simulated": "simulated", "allen": "allen", "dandi": "dandi", "nwb": "own"}
# Provenance -> (the rule that makes such a file, a note on running it).
MADE_BY = {
    "simulated": ("simulate_session", ""),
    "allen": ("download_session", " (a localrule: it needs internet, e.g. on a login node)"),
    "dandi": ("download_dandi", " (a localrule: it needs internet, e.g. on a login node)"),
}
OWN_FILE = "your own file (config nwb_files or nwb_dir), not one this workflow made"
ALLEN_SESSION_FILES = (
    "an Allen Visual Coding - Neuropixels brain_observatory_1.1 session file (DANDI 000021's "
    "sub-<subject>/sub-<subject>_ses-<session>.nwb or AllenSDK's "
    "session_<id>/session_<id>.nwb; not a per-probe LFP file)"
)


def provenance_of(source_or_provenance: str) -> str:
    """The provenance of a config ``source`` (``nwb`` -> ``own``); provenances pass through."""
    if source_or_provenance in PROVENANCES:
        return source_or_provenance
    if source_or_provenance in SOURCE_PROVENANCE:
        return SOURCE_PROVENANCE[source_or_provenance]
    raise ValueError(
        f"provenance {source_or_provenance!r} is not one of {PROVENANCES} "
        f"(or a config source: {sorted(SOURCE_PROVENANCE)})"
    )


def _remake(path: Path, provenance: str) -> str:
    """Advice for a damaged file that a rule made: delete it and rerun that rule."""
    rule, note = MADE_BY[provenance]
    return (
        f"The {rule} rule made this file: delete it (rm {path}) and rerun the workflow, "
        f"which runs {rule} again{note}."
    )


def missing_file_message(path: Path, provenance: str) -> str:
    if provenance == "own":
        return (
            f"{path}: no such file. It is {OWN_FILE}, so no rule makes it: fix its path in the "
            "config (nwb_files, or nwb_dir.path and nwb_dir.glob)."
        )
    rule, note = MADE_BY[provenance]
    return f"{path}: no such NWB file; run the {rule} rule that makes it{note}."


def unreadable_message(path: Path, provenance: str, err: BaseException) -> str:
    """``path`` is not an HDF5 file h5py can open."""
    head = f"{path}: not a readable NWB (HDF5) file ({err})."
    if provenance == "own":
        return (
            f"{head} This is {OWN_FILE}: it may be truncated or corrupt (an interrupted copy or "
            "download) or not an NWB file at all. Check it (h5ls or h5dump -H on it), replace "
            "it with a complete copy, or fix its path in the config (nwb_files, nwb_dir); the "
            "workflow does not remake it."
        )
    return f"{head} The file is truncated or corrupt. {_remake(path, provenance)}"


def layout_message(fact: str, path: Path, provenance: str) -> str:
    """``fact`` (a sentence starting with the path) plus what to do about a file whose tables
    are missing or malformed."""
    fact = fact.rstrip(". ")
    if provenance == "own":
        return (
            f"{fact}. This is {OWN_FILE}: check that it is {ALLEN_SESSION_FILES}, replace it, or "
            "fix its path in the config (nwb_files, nwb_dir)."
        )
    return f"{fact}. {_remake(path, provenance)}"


def session_type_advice(provenance: str) -> str:
    """What to do about a session without static gratings or natural scenes."""
    return {
        "simulated": "The simulator always writes both blocks: delete the file and rerun "
        "simulate_session.",
        "allen": "Choose a brain_observatory_1.1 session id in allen.session_ids.",
        "dandi": "Choose a brain_observatory_1.1 session id in dandi.session_ids (dandiset "
        "000021 holds those).",
        "own": "Point nwb_files (or nwb_dir) at a brain_observatory_1.1 session file instead.",
    }[provenance]


def read_session(path: str | Path, provenance: str = "own") -> AllenSession:
    """Read an Allen brain_observatory_1.1 NWB file (or the simulator's copy of its layout).

    ``provenance`` says where the file came from: ``"simulated"`` (simulate_session),
    ``"allen"`` (download_session), ``"dandi"`` (download_dandi) or ``"own"`` (the user's file,
    config nwb_files or nwb_dir; the default). A config ``source`` is accepted too (``"nwb"``
    means ``"own"``). Error messages advise deleting and remaking only files a rule made.

    Raises NWBReadError for missing or unreadable files and missing or malformed tables,
    SessionTypeError when the static-gratings or natural-scenes presentations are absent
    (functional_connectivity).
    """
    path = Path(path)
    provenance = provenance_of(provenance)
    if not path.exists():
        raise NWBReadError(missing_file_message(path, provenance))
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise NWBReadError(unreadable_message(path, provenance, err)) from None
    try:
        with f:
            return _read_open_file(path, f, provenance)
    except SessionTypeError:
        raise
    except NWBReadError as err:
        raise NWBReadError(layout_message(str(err), path, provenance)) from None
    except (KeyError, OSError, ValueError) as err:
        raise NWBReadError(
            layout_message(
                f"{path}: not in the Allen Visual Coding Neuropixels NWB layout or damaged ({err})",
                path,
                provenance,
            )
        ) from None


def _read_open_file(path: Path, f: h5py.File, provenance: str = "own") -> AllenSession:
    missing = [
        f"intervals/{b}_presentations"
        for b in STIMULUS_BLOCKS
        if f"intervals/{b}_presentations" not in f
    ]
    if missing:
        present = sorted(f["intervals"].keys()) if "intervals" in f else []
        raise SessionTypeError(
            f"{path}: has no {', '.join(missing)}; only Allen brain_observatory_1.1 sessions "
            f"show static gratings and natural scenes (this file has: {present or 'no intervals'}"
            "; functional_connectivity sessions look like this). "
            + session_type_advice(provenance)
        )
    if "units" not in f or "spike_times" not in f["units"]:
        raise NWBReadError(
            f"{path}: has no /units table with spike_times; it is not an Allen ecephys session file"
        )
    u = f["units"]
    ids = u["id"][:]
    # Only the index is read here: spike times are read per selected unit (SpikeTimes).
    index = u["spike_times_index"][:].astype(np.int64)
    n_spikes = u["spike_times"].shape[0]
    if len(index) != len(ids) or (
        len(index) and (index[0] < 0 or np.any(np.diff(index) < 0) or index[-1] > n_spikes)
    ):
        raise NWBReadError(
            f"{path}: units/spike_times_index ({len(index)} entries) does not match its "
            f"{len(ids)} units and {n_spikes} spike times; the file is damaged"
        )
    bounds = np.concatenate([[0], index])
    keep = np.ones(len(ids), dtype=bool)
    units = pd.DataFrame({"unit_id": ids})
    for col in QUALITY_COLUMNS:
        if col in u:
            vals = u[col][:]
            units[col] = _decode(vals) if col == "quality" else vals.astype(float)
    if "quality" not in units:  # Allen's older files omit the label: all sorted units are good
        units["quality"] = "good"
    el = f["general/extracellular_ephys/electrodes"]
    channel_area = pd.Series(_decode(el["location"][:]), index=el["id"][:])
    if "peak_channel_id" in u:
        units["peak_channel_id"] = u["peak_channel_id"][:]
        units["area"] = channel_area.reindex(units["peak_channel_id"].to_numpy()).to_numpy()
    else:
        raise NWBReadError(
            f"{path}: /units lacks peak_channel_id, so units cannot be placed in brain areas"
        )
    units["area"] = units["area"].fillna("unknown").astype(str)
    # AllenSDK's units table keeps only units whose peak channel is valid:
    # EcephysNwbSessionApi.get_units -> Probes.get_units_table(filter_by_validity=True)
    # (allensdk/brain_observatory/ecephys/probes.py) drops channels with valid_data == False
    # and then every unit whose peak_channel_id is not among the remaining channels.
    # Units whose peak channel is absent from the table stay (area "unknown"); a file
    # without the column keeps every unit.
    units_invalid_channel: tuple[int, ...] = ()
    if "valid_data" in el:
        valid = pd.Series(_valid_flags(el["valid_data"][:], path), index=el["id"][:])
        on_invalid = (
            valid.reindex(units["peak_channel_id"].to_numpy()).eq(False).to_numpy(dtype=bool)
        )
        if on_invalid.any():
            units_invalid_channel = tuple(int(i) for i in units["unit_id"][on_invalid])
            units = units[~on_invalid].reset_index(drop=True)
            keep = ~on_invalid
    rows = np.flatnonzero(keep)
    spike_times = SpikeTimes(path, rows, bounds[rows], bounds[rows + 1], provenance)
    units = units.set_index("unit_id")
    ephys = f["general/extracellular_ephys"]
    probe_names = tuple(
        sorted(k for k in ephys.keys() if k != "electrodes" and isinstance(ephys[k], h5py.Group))
    )

    allen_ids = allen_presentation_ids(f["intervals"])
    tables = []
    for b in STIMULUS_BLOCKS:
        t = _read_table(f[f"intervals/{b}_presentations"], PRESENTATION_COLUMNS)
        t["stimulus_name"] = b
        t["stimulus_block"] = _block_numbers(t["stimulus_block"].to_numpy(), path, b)
        t["presentation_id"] = allen_ids[f"{b}_presentations"]
        t["nwb_row_id"] = f[f"intervals/{b}_presentations/id"][:].astype(np.int64)
        tables.append(t)
    presentations = (
        pd.concat(tables).sort_values("presentation_id", kind="stable").reset_index(drop=True)
    )
    if "intervals/spontaneous_presentations" in f:
        spontaneous = _read_table(f["intervals/spontaneous_presentations"], ())
        spontaneous["presentation_id"] = allen_ids["spontaneous_presentations"]
        spontaneous["nwb_row_id"] = f["intervals/spontaneous_presentations/id"][:].astype(np.int64)
    else:
        spontaneous = pd.DataFrame(
            {
                "start_time": np.zeros(0),
                "stop_time": np.zeros(0),
                "presentation_id": np.zeros(0, dtype=np.int64),
                "nwb_row_id": np.zeros(0, dtype=np.int64),
            }
        )

    gabors = None
    g = f.get("intervals/gabors_presentations")
    if g is not None and all(c in g for c in GABOR_TABLE_COLUMNS):
        gabors = _read_table(g, GABOR_TABLE_COLUMNS)
        gabors["presentation_id"] = allen_ids["gabors_presentations"]
        gabors = gabors.dropna(subset=list(GABOR_TABLE_COLUMNS)).reset_index(drop=True)

    run_t = run_v = None
    for key in ("processing/running/running_speed", "processing/running/running_speed/"):
        if key in f:
            ts = f[key]
            run_v = ts["data"][:].astype(float)
            run_t = (
                ts["timestamps"][:]
                if "timestamps" in ts
                else (
                    ts["starting_time"][()]
                    + np.arange(len(run_v)) / ts["starting_time"].attrs["rate"]
                )
            )
            break
    session_id = (
        _decode(np.array([f["general/session_id"][()]]))[0]
        if ("general/session_id" in f)
        else path.stem
    )
    description = _decode(np.array([f["session_description"][()]]))[0]
    return AllenSession(
        path,
        session_id,
        description,
        units,
        spike_times,
        presentations,
        spontaneous,
        run_t,
        run_v,
        invalid_times=_read_invalid_times(f, path),
        probe_names=probe_names,
        units_invalid_channel=units_invalid_channel,
        gabors=gabors,
    )


def running_speed_per_presentation(
    session: AllenSession, start: np.ndarray, stop: np.ndarray, required: bool = True
) -> np.ndarray:
    """Mean running speed (cm/s) during each presentation; NaN where no sample falls inside.

    Raises RunningSpeedError when the file has no running speed and ``required``.
    """
    if session.running_speed is None or session.running_t is None:
        if required:
            raise RunningSpeedError(
                f"{session.path}: has no running speed (processing/running/running_speed). Set "
                "responses.require_running_speed: false in the config to continue without it "
                "(running-vs-still analyses are then unavailable)."
            )
        return np.full(len(start), np.nan)
    t, v = session.running_t, session.running_speed
    csum = np.concatenate([[0.0], np.cumsum(v)])
    i0, i1 = np.searchsorted(t, start), np.searchsorted(t, stop)
    n = i1 - i0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (csum[i1] - csum[i0]) / np.maximum(n, 1), np.nan)
