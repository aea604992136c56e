"""The gabor epoch: receptive-field mapping, the first stimulus of every Allen session, as a
drift control that every recording carries (docs/method.md, "The gabor-epoch drift control").

Allen's brain_observatory_1.1 and functional_connectivity sessions open with 912 s of Gabor
patches: 9 x 9 positions (-40..40 degrees, 10 apart) x 3 orientations (0, 45, 90 degrees) x 15
repeats, 250 ms each, back to back in random order (3,645 presentations), AllenSDK's
``gabors`` presentations. Nothing in it is natural or artificial. Cut into as many equal
stretches as the session shows decoded blocks, labelled in the order it shows them (Allen's:
SG NS NS SG NS SG; :func:`session_block_order`), with each condition's mean removed from the
counts, it gives a label that is only time: whatever decodes it reads drift, on the
recording's own units (:func:`time_only_label`, :func:`condition_residuals`).

One exchange format holds an epoch on disk, for the real-data studies: a folder with
``gabor/<session>.npz`` (``unit_ids``, ``counts`` units x presentations, and per presentation
``stimulus_presentation_id``, ``start_time``, ``stop_time``, ``x_position``, ``y_position``,
``orientation``, ``stimulus_condition_id``) and ``units.csv.gz`` (``ecephys_session_id``,
``ecephys_unit_id``, ``ecephys_structure_acronym`` and Allen's quality metrics)
(:func:`load_epoch`, :func:`save_epoch`; ``benchmarks/studies/export_gabor.py`` writes it from NWB
files).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from nidecode.common.errors import NidecodeError

GABOR_POSITIONS_DEG = tuple(float(v) for v in range(-40, 41, 10))
GABOR_ORIENTATIONS = (0.0, 45.0, 90.0)
GABOR_REPEATS = 15
GABOR_SF_CPD = 0.08
GABOR_TF_HZ = 4.0
GABOR_SIZE_DEG = 20.0  # patch diameter
GABOR_CONTRAST = 0.8
GABOR_COLUMNS = ("x_position", "y_position", "orientation")
# Allen's decoded blocks, in the order a brain_observatory_1.1 session shows them.
ALLEN_BLOCK_ORDER = ("static_gratings", "natural_scenes", "natural_scenes", "static_gratings",
                     "natural_scenes", "static_gratings")
LABEL_NAMES = ("natural_scenes", "static_gratings")  # the time-only label's pseudo-classes
MIN_PRESENTATIONS = 600  # fewer: too short an epoch to cut into six blocks worth decoding


def gabor_conditions() -> list[tuple[float, float, float]]:
    """The 243 (x_position, y_position, orientation) conditions, in a fixed order."""
    return [(x, y, o) for x in GABOR_POSITIONS_DEG for y in GABOR_POSITIONS_DEG
            for o in GABOR_ORIENTATIONS]


def render_gabor(x_deg: float, y_deg: float, orientation: float, phase: float,
                 grid: tuple[np.ndarray, np.ndarray], contrast: float = GABOR_CONTRAST,
                 mean_grey: float = 0.5) -> np.ndarray:
    """One frame of a Gabor patch on a grey screen, float32 in [0, 1].

    ``grid``: (y, x) degrees of each pixel centre (``Canvas.grid_deg``; the simulator's
    screen and RFs share it, so which way y points does not matter). A sinusoid of
    :data:`GABOR_SF_CPD` at ``orientation`` (0 = vertical bars) and ``phase`` (cycles) under
    a Gaussian envelope whose full width at 1/e^2 is the patch diameter.
    """
    y, x = grid
    theta = math.radians(orientation)
    u = (x - x_deg) * math.cos(theta) + (y - y_deg) * math.sin(theta)
    sigma = GABOR_SIZE_DEG / 4
    env = np.exp(-((x - x_deg) ** 2 + (y - y_deg) ** 2) / (2 * sigma**2))
    wave = np.cos(2 * np.pi * (GABOR_SF_CPD * u + phase))
    return np.clip(mean_grey + mean_grey * contrast * env * wave, 0, 1).astype(np.float32)


@dataclass
class GaborEpoch:
    """One session's gabor epoch: spike counts of its units in each presentation.

    ``counts``: (presentations, units) spike counts in each 250 ms presentation, presentations
    in time order; ``start_time`` (s, session clock); ``condition``: (x, y, orientation) as one
    integer id per presentation; ``unit_ids`` and ``area`` per unit. ``skipped`` says why a
    session has no usable epoch (then ``counts`` is empty).
    """

    session: str
    source: str
    counts: np.ndarray
    start_time: np.ndarray
    condition: np.ndarray
    unit_ids: np.ndarray
    area: np.ndarray
    skipped: str | None = None
    info: dict = field(default_factory=dict)
    # The decoded blocks in the order the session shows them (:func:`session_block_order`):
    # the time-only label's stretches follow it.
    block_order: tuple[str, ...] = ALLEN_BLOCK_ORDER

    @classmethod
    def missing(cls, session: str, source: str, why: str) -> GaborEpoch:
        z = np.zeros(0)
        return cls(session, source, np.zeros((0, 0)), z, z.astype(np.int64), z.astype(np.int64),
                   z.astype(str), skipped=why)


def condition_ids(table: pd.DataFrame) -> np.ndarray:
    """One integer per distinct (x_position, y_position, orientation) of ``table``."""
    keys = table[list(GABOR_COLUMNS)].round(3).astype(str).agg("|".join, axis=1)
    return np.unique(keys.to_numpy(), return_inverse=True)[1].astype(np.int64)


def time_only_label(start_time: np.ndarray, order: tuple[str, ...] = ALLEN_BLOCK_ORDER
                    ) -> tuple[np.ndarray, np.ndarray]:
    """A label that is only time: the epoch cut into ``len(order)`` stretches of equal
    presentation count, in time order, labelled by ``order``.

    Returns ``y`` (index into :data:`LABEL_NAMES`) and ``block`` (0..len(order)-1) per
    presentation, in the order of ``start_time``.
    """
    rank = np.argsort(np.argsort(start_time, kind="stable"), kind="stable")
    block = (rank * len(order)) // max(len(start_time), 1)
    y = np.array([LABEL_NAMES.index(order[b]) for b in block], dtype=np.int64)
    return y, block.astype(np.int64)


def session_block_order(presentations: pd.DataFrame) -> tuple[str, ...]:
    """The decoded stimuli's blocks (``stimulus_name`` of each ``stimulus_block`` among
    :data:`LABEL_NAMES`) in the order the session shows them, by each block's first onset:
    ``ALLEN_BLOCK_ORDER`` for a brain_observatory_1.1 session. Empty when it shows none."""
    table = presentations[presentations["stimulus_name"].isin(LABEL_NAMES)]
    if table.empty:
        return ()
    first = table.groupby(["stimulus_name", "stimulus_block"])["start_time"].min()
    return tuple(name for name, _ in first.sort_values(kind="stable").index)


def condition_residuals(counts: np.ndarray, condition: np.ndarray) -> np.ndarray:
    """Counts minus the mean of each unit over the presentations of the same condition.

    The means use every presentation and no label, so the stimulus leaves the counts and what
    is left varies with time (drift) and trial-to-trial noise only.
    """
    x = np.asarray(counts, dtype=np.float64)
    _, inv = np.unique(condition, return_inverse=True)
    sums = np.zeros((inv.max() + 1, x.shape[1]))
    np.add.at(sums, inv, x)
    n = np.bincount(inv)[:, None]
    return x - (sums / n)[inv]


def session_epoch(session, areas: tuple[str, ...], filters: dict, source: str,
                  name: str) -> GaborEpoch:
    """The gabor epoch of a session read by :func:`nidecode.data.nwb.read_session`: spike
    counts of its units in ``areas`` passing ``filters`` (the main analysis's units), each
    presentation's window [start, stop), and the session's own block order
    (:func:`session_block_order`). Presentations inside the session's stimulus-invalid
    intervals are left out, as for the decoded stimuli. Without a gabors table with positions
    and orientations (an older simulated file, or a session type without the epoch), or
    without a unit in ``areas`` that passes ``filters``, the epoch is
    :meth:`GaborEpoch.missing` with the reason."""
    from nidecode.common.errors import UnitSelectionError
    from nidecode.data.responses import (
        invalid_presentation_mask,
        select_units,
        spike_counts,
    )

    table = session.gabors
    if table is None or table.empty:
        return GaborEpoch.missing(name, source, f"{session.path}: no gabor presentations "
                                  "(intervals/gabors_presentations with x_position, y_position, "
                                  "orientation)")
    table = table[~invalid_presentation_mask(session, table)].sort_values("start_time")
    if len(table) < MIN_PRESENTATIONS:
        return GaborEpoch.missing(name, source, f"{session.path}: {len(table)} valid gabor "
                                  f"presentations, fewer than {MIN_PRESENTATIONS}")
    try:
        mask = select_units(session, areas, filters)
    except UnitSelectionError as err:
        return GaborEpoch.missing(name, source, str(err))
    spikes = session.unit_spikes(mask)
    counts = spike_counts(spikes, table.start_time.to_numpy(), table.stop_time.to_numpy())
    order = session_block_order(session.presentations)
    return GaborEpoch(name, source, counts, table.start_time.to_numpy(float),
                      condition_ids(table), session.units.index.to_numpy()[mask],
                      session.units["area"].to_numpy(str)[mask],
                      info={"n_presentations_file": int(len(session.gabors))},
                      block_order=order or ALLEN_BLOCK_ORDER)


# ------------------------------------------------------------------------- the exchange format

# Fewer units passing the filters than this: too few to read a session's drift from, so the
# real-data studies leave the session out (every one of Allen's 32 sessions has at least 14).
MIN_UNITS = 5
# A longer pause between two presentations interrupts the epoch: the drift statistics' 30-s
# bins would hold a hole, and stretches of equal presentation count would no longer be equal
# stretches of time. Allen's longest pause in the 32 sessions is 12.3 s (invalid intervals).
MAX_GAP_S = 30.0


def save_epoch(epoch: GaborEpoch, folder: str | Path, presentation_ids: np.ndarray | None = None,
               stop_time: np.ndarray | None = None, table: pd.DataFrame | None = None) -> Path:
    """Write ``epoch`` as ``<folder>/gabor/<session>.npz`` (the exchange format above), with
    ``block_order``: the session's decoded blocks in the order it shows them, which the
    time-only label follows (:func:`load_epoch` reads Allen's order where a file lacks it)."""
    path = Path(folder) / "gabor" / f"{epoch.session}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(epoch.start_time)
    cols = {c: (table[c].to_numpy(np.float32) if table is not None else np.zeros(n, np.float32))
            for c in GABOR_COLUMNS}
    tmp = path.with_name(f".{path.stem}.partial.npz")
    np.savez_compressed(
        tmp, unit_ids=epoch.unit_ids.astype(np.int64),
        counts=np.asarray(epoch.counts.T, dtype=np.int16),
        stimulus_presentation_id=(np.arange(n) if presentation_ids is None
                                  else presentation_ids).astype(np.int64),
        start_time=epoch.start_time.astype(np.float64),
        stop_time=(epoch.start_time + 0.25 if stop_time is None else stop_time
                   ).astype(np.float64),
        stimulus_condition_id=epoch.condition.astype(np.int32),
        block_order=np.array(epoch.block_order, dtype=str), **cols)
    tmp.replace(path)
    return path


UNIT_FILTER_COLUMNS = {"amplitude_cutoff_max": ("amplitude_cutoff", "le"),
                       "presence_ratio_min": ("presence_ratio", "ge"),
                       "isi_violations_max": ("isi_violations", "le")}
EPOCH_ARRAYS = ("unit_ids", "counts", "start_time", "stop_time") + GABOR_COLUMNS


def unit_table(folder: str | Path) -> pd.DataFrame:
    """``<folder>/units.csv.gz``: one row per unit with its area and quality metrics."""
    path = Path(folder) / "units.csv.gz"
    if not path.is_file():
        raise NidecodeError(f"{path}: missing; a gabor-epoch folder holds gabor/<session>.npz "
                            "and units.csv.gz (benchmarks/studies/export_gabor.py writes both)")
    return pd.read_csv(path)


def session_names(units: pd.DataFrame) -> pd.Series:
    """Each row's ``ecephys_session_id`` as its file's stem spells it: Allen's ids are
    integers (read back as float where the column has a gap), a user's may be any name."""
    names = units["ecephys_session_id"].astype(str)
    return names.str.replace(r"^(-?\d+)\.0$", r"\1", regex=True)


def session_units(units: pd.DataFrame, session: str) -> pd.DataFrame:
    """The rows of ``session`` in a unit table; the whole table where no row names it (a
    folder whose files were renamed), each unit once."""
    rows = units
    if "ecephys_session_id" in units:
        own = units[session_names(units) == str(session)]
        rows = own if len(own) else units
    return rows.drop_duplicates("ecephys_unit_id", keep="last")


def epoch_sessions(folder: str | Path) -> list[str]:
    """The sessions of a gabor-epoch folder (``gabor/*.npz``), sorted."""
    files = sorted((Path(folder) / "gabor").glob("*.npz"))
    if not files:
        raise NidecodeError(f"{folder}: no gabor/*.npz files; give a folder in the gabor-epoch "
                            "exchange format (benchmarks/studies/export_gabor.py writes one)")
    return [f.stem for f in files]


def interruption(start_time: np.ndarray, stop_time: np.ndarray) -> str | None:
    """Why an epoch's presentations are too few or too broken to use (fewer than
    :data:`MIN_PRESENTATIONS`, or a pause longer than :data:`MAX_GAP_S`), or None."""
    order = np.argsort(start_time, kind="stable")
    start, stop = np.asarray(start_time)[order], np.asarray(stop_time)[order]
    if len(start) < MIN_PRESENTATIONS:
        return (f"{len(start)} gabor presentations, fewer than {MIN_PRESENTATIONS} (a short "
                "epoch)")
    gaps = start[1:] - stop[:-1]
    k = int(np.argmax(gaps))
    if gaps[k] > MAX_GAP_S:
        return (f"the gabor epoch pauses {gaps[k]:.0f} s at {stop[k]:.0f} s, longer than "
                f"{MAX_GAP_S:g} s (an interrupted epoch)")
    return None


def load_epoch(folder: str | Path, session: str, areas: tuple[str, ...] = ("VISp",),
               filters: dict | None = None, units: pd.DataFrame | None = None,
               source: str = "allen", min_units: int = MIN_UNITS) -> GaborEpoch:
    """One session's epoch from a folder in the exchange format, keeping the units in
    ``areas`` that pass ``filters`` (AllenSDK's names: ``amplitude_cutoff_max``, ...;
    ``quality``; a filter whose column the table lacks is not applied, as in
    :func:`nidecode.data.responses.select_units`). Units the table does not list are dropped.

    A session the studies cannot use is :meth:`GaborEpoch.missing` with the reason, checked
    before anything decodes it: no unit in ``areas``, fewer than ``min_units`` passing the
    filters, or a short or interrupted epoch (:func:`interruption`). Its ``info`` keeps the
    counts the reason rests on."""
    d = np.load(Path(folder) / "gabor" / f"{session}.npz")
    lacking = [k for k in EPOCH_ARRAYS if k not in d]
    if lacking:
        return GaborEpoch.missing(session, source, f"gabor/{session}.npz lacks {lacking}")
    units = unit_table(folder) if units is None else units
    u = session_units(units, session).set_index("ecephys_unit_id").reindex(d["unit_ids"])
    area = u["ecephys_structure_acronym"].to_numpy(str)
    in_area = np.isin(area, areas)
    keep = in_area.copy()
    for key, value in (filters or {}).items():
        if key == "quality" and "quality" in u:
            keep &= (u["quality"] == value).to_numpy()
        elif key in UNIT_FILTER_COLUMNS and UNIT_FILTER_COLUMNS[key][0] in u:
            col, op = UNIT_FILTER_COLUMNS[key]
            v = u[col].to_numpy(float)
            keep &= (v <= value) if op == "le" else (v >= value)
    info = {"n_units_file": int(len(d["unit_ids"])), "n_units_in_area": int(in_area.sum()),
            "n_units": int(keep.sum()), "n_presentations": int(len(d["start_time"]))}
    where = "/".join(areas)
    if not in_area.any():
        found = pd.Series(area[area != "nan"]).value_counts().to_dict()
        why = f"no {where} units (units per area here: {found or 'none listed'})"
    elif keep.sum() < max(min_units, 1):
        why = (f"{int(in_area.sum())} {where} units, {int(keep.sum())} passing the quality "
               f"filters, fewer than {max(min_units, 1)}")
    else:
        why = interruption(d["start_time"], d["stop_time"])
    if why:
        epoch = GaborEpoch.missing(session, source, why)
        epoch.info = info
        return epoch
    order = np.argsort(d["start_time"], kind="stable")
    table = pd.DataFrame({c: d[c][order] for c in GABOR_COLUMNS})
    blocks = tuple(str(b) for b in d["block_order"]) if "block_order" in d else ()
    return GaborEpoch(
        session=session, source=source, counts=d["counts"][keep][:, order].T.astype(np.int64),
        start_time=d["start_time"][order], condition=condition_ids(table),
        unit_ids=d["unit_ids"][keep], area=area[keep], info=info,
        block_order=blocks or ALLEN_BLOCK_ORDER)
