"""Shared fixtures: small hand-made NWB files in Allen's layout, written with pynwb."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

# Unit A (VISp, good): spikes placed by hand; see test_responses.py for the arithmetic.
UNIT_A = [9.9, 10.01, 10.1, 10.3, 19.81, 19.9, 20.0, 20.2, 20.24, 20.6]
GRATINGS = [  # start, orientation, spatial_frequency, phase ("null" = blank)
    (10.0, "0", "0.04", "0"),
    (10.25, "30", "0.08", "0.25"),
    (10.5, "90", "0.02", "0.5"),
    (10.75, "null", "null", "null"),
]
SCENES = [(20.0, "5"), (20.25, "17"), (20.5, "117"), (20.75, "-1")]  # start, frame (-1 = blank)


def write_allen_nwb(
    path: Path,
    units: dict[str, tuple[str, str, list[float]]],
    gratings: bool = True,
    scenes: bool = True,
    running: bool = True,
    invalid_times: list[tuple[float, float, list[str]]] | None = None,
    valid_data: dict[int, bool] | None = None,
    peak_channels: dict[str, int] | None = None,
) -> Path:
    """Write a tiny Allen-layout NWB file. ``units``: name -> (area, quality, spike times).

    Electrodes: one per area (ids 1000, 1001, ... in sorted area order), each unit's peak
    channel being its area's, unless ``peak_channels`` (unit name -> electrode id) puts a unit
    on another electrode (created, in the unit's area, when new). ``valid_data`` (electrode id
    -> flag) adds Allen's ``valid_data`` electrode column (True where not given).
    ``invalid_times``: (start, stop, tags) rows of ``intervals/invalid_times``.
    """
    from pynwb import NWBHDF5IO, NWBFile, ProcessingModule, TimeSeries
    from pynwb.epoch import TimeIntervals

    nwb = NWBFile(
        session_description="hand-made test session",
        identifier=path.stem,
        session_start_time=datetime(2019, 1, 1, tzinfo=UTC),
        session_id="test",
    )
    dev = nwb.create_device(name="probeA")
    grp = nwb.create_electrode_group(name="probeA", description="", location="", device=dev)
    areas = sorted({a for a, _, _ in units.values()})
    channel = {name: 1000 + areas.index(area) for name, (area, _, _) in units.items()}
    channel.update(peak_channels or {})
    electrodes = {1000 + i: area for i, area in enumerate(areas)}
    for name, cid in channel.items():
        electrodes.setdefault(cid, units[name][0])
    if valid_data is not None:
        nwb.add_electrode_column("valid_data", "channel usable")
    for cid, area in sorted(electrodes.items()):
        extra = {} if valid_data is None else {"valid_data": valid_data.get(cid, True)}
        nwb.add_electrode(id=cid, location=area, group=grp, **extra)
    for col in (
        "peak_channel_id",
        "quality",
        "isi_violations",
        "amplitude_cutoff",
        "presence_ratio",
        "snr",
        "firing_rate",
    ):
        nwb.add_unit_column(col, col)
    for k, (name, (_, quality, spikes)) in enumerate(units.items()):
        nwb.add_unit(
            id=k,
            spike_times=spikes,
            peak_channel_id=channel[name],
            quality=quality,
            isi_violations=0.1,
            amplitude_cutoff=0.01,
            presence_ratio=0.99,
            snr=3.0,
            firing_rate=1.0,
        )
    cols = (
        "stimulus_name",
        "stimulus_block",
        "orientation",
        "spatial_frequency",
        "phase",
        "contrast",
        "frame",
    )
    if gratings:
        ti = TimeIntervals(name="static_gratings_presentations", description="")
        for c in cols:
            ti.add_column(c, c)
        for start, o, sf, ph in GRATINGS:
            ti.add_interval(
                start_time=start,
                stop_time=start + 0.25,
                stimulus_name="static_gratings",
                stimulus_block=2.0,
                orientation=o,
                spatial_frequency=sf,
                phase=ph,
                contrast="0.8",
                frame="null",
            )
        nwb.add_time_intervals(ti)
    if scenes:
        ti = TimeIntervals(name="natural_scenes_presentations", description="")
        for c in cols:
            ti.add_column(c, c)
        for start, frame in SCENES:
            ti.add_interval(
                start_time=start,
                stop_time=start + 0.25,
                stimulus_name="natural_scenes",
                stimulus_block=4.0,
                orientation="null",
                spatial_frequency="null",
                phase="null",
                contrast="null",
                frame=frame,
            )
        nwb.add_time_intervals(ti)
    for start, stop, tags in invalid_times or []:
        nwb.add_invalid_time_interval(start_time=start, stop_time=stop, tags=list(tags))
    if running:
        mod = ProcessingModule(name="running", description="")
        mod.add(
            TimeSeries(
                name="running_speed",
                data=np.array([2.0, 4.0, 7.0, 30.0]),
                timestamps=np.array([10.1, 10.2, 10.3, 20.1]),
                unit="cm/s",
            )
        )
        nwb.add_processing_module(mod)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


@pytest.fixture
def hand_nwb(tmp_path: Path) -> Path:
    """Unit A in VISp (good), a CA1 unit and a VISp 'noise' unit (both filtered out)."""
    return write_allen_nwb(
        tmp_path / "hand.nwb",
        {
            "A": ("VISp", "good", UNIT_A),
            "B": ("CA1", "good", [10.1, 20.1]),
            "C": ("VISp", "noise", [10.1, 20.1]),
        },
    )


@pytest.fixture(scope="session")
def small_stimuli():
    from nidecode.data.stimuli import Canvas, render_stimuli

    return render_stimuli(Canvas(12, 20))


# --- Session files as a user's folder holds them (tests/test_sources.py) ---------------------


@pytest.fixture(scope="session")
def small_simulated_session():
    """One small simulated session (10 VISp units, 1 repeat, one block; a few seconds)."""
    from nidecode.data.schedule import alternating_epochs
    from nidecode.data.session_clock import Protocol
    from nidecode.data.simulate import AnimalSpec, simulate_session
    from nidecode.data.stimuli import Canvas

    return simulate_session(
        AnimalSpec(name="M1", seed=1, n_units={"VISp": 10}),
        Protocol(repeats=1, blanks_gratings=1, blanks_scenes=1,
                 epochs=alternating_epochs(n_blocks=1, block_s=31.0, spontaneous_s=5.0)),
        Canvas(12, 20),
    )


@pytest.fixture
def write_session_file(small_simulated_session):
    """``write(path, session_id, subject=None)``: the small simulated session written as an NWB
    file whose general/session_id (and general/subject/subject_id) are those of an Allen file."""
    from nidecode.data.simulate import write_nwb

    def write(path: Path, session_id: str, subject: str | None = None) -> Path:
        write_nwb(small_simulated_session, path)
        return set_allen_ids(path, session_id, subject)

    return write


def set_allen_ids(path: Path, session_id: str, subject: str | None = None) -> Path:
    """Give an NWB file the general/session_id (and general/subject/subject_id) of an Allen
    file, from which the workflow names its session ``<subject>_<session id>``."""
    import h5py

    with h5py.File(path, "a") as f:
        del f["general/session_id"]
        f["general/session_id"] = str(session_id)
        if subject is not None:
            g = f.require_group("general/subject")
            g.attrs["neurodata_type"] = "Subject"
            g.attrs["namespace"] = "core"
            g["subject_id"] = str(subject)
    return path


# --- A user's own folder, decodable end to end (tests/test_workflow.py) ----------------------


@pytest.fixture(scope="session")
def decodable_sessions():
    """Small simulated sessions as Allen records them: Allen's session clock (its three
    blocks of each stimulus in Allen's order, SG NS NS SG NS SG, the gabor epoch first, the
    slow drift), three repeats of each stimulus and 100 VISp units. ``informative`` and
    ``informative_b`` (two animals with stimulus information, strongly driven so that the
    decoders find it at this small size) and ``stimulus_blind`` (its units ignore the
    stimulus). A few seconds each."""
    from nidecode.data.session_clock import Protocol
    from nidecode.data.simulate import AnimalSpec, simulate_session
    from nidecode.data.stimuli import Canvas

    protocol = Protocol(repeats=3, blanks_gratings=6, blanks_scenes=6)  # epochs: Allen's clock
    return {kind: simulate_session(AnimalSpec(name=kind, seed=seed, n_units={"VISp": 100},
                                              stimulus_blind=kind == "stimulus_blind",
                                              drive=1.5, gain_noise=0.2),
                                   protocol, Canvas(12, 20))
            for kind, seed in (("informative", 11), ("stimulus_blind", 12),
                               ("informative_b", 13))}


@pytest.fixture
def write_own_folder(decodable_sessions):
    """``write(folder, kinds)``: one AllenSDK-layout file per kind of
    :func:`decodable_sessions` in ``kinds`` (``session_<id>/session_<id>.nwb``: subjects
    990009003, 990009004, ..., sessions 990000301, 990000302, ...); returns the session names
    the workflow gives them, in order."""
    from nidecode.data.simulate import write_nwb

    def write(folder: Path, kinds: list[str]) -> list[str]:
        names = []
        for k, kind in enumerate(kinds):
            session_id, subject = str(990000301 + k), str(990009003 + k)
            path = folder / f"session_{session_id}" / f"session_{session_id}.nwb"
            path.parent.mkdir(parents=True)
            write_nwb(decodable_sessions[kind], path)
            set_allen_ids(path, session_id, subject)
            names.append(f"{subject}_{session_id}")
        return names

    return write


@pytest.fixture
def write_allen_session(decodable_sessions):
    """``write(path, kind, session_id)``: the ``kind`` of :func:`decodable_sessions` as the
    Allen session file ``session_id`` (its general/session_id), at ``path``, where a download
    rule would have written it."""
    from nidecode.data.simulate import write_nwb

    def write(path: Path, kind: str, session_id: int | str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_nwb(decodable_sessions[kind], path)
        return set_allen_ids(path, str(session_id))

    return write
