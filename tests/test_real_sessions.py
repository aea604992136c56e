"""The real-data tools on every kind of Allen session (issue 37, parts 4 and 5): sessions
without VISp units, with too few passing the filters, without scene and grating metrics, with
a short or interrupted gabor epoch, with names that are not integers; and a folder written by
benchmarks/studies/export_gabor.py from Allen-layout NWB files feeding the fidelity table's real
side.
Every fixture is made here; no shared data."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from nidecode.data.gabors import (
    ALLEN_BLOCK_ORDER,
    MAX_GAP_S,
    MIN_PRESENTATIONS,
    MIN_UNITS,
    GaborEpoch,
    epoch_sessions,
    gabor_conditions,
    load_epoch,
    save_epoch,
)
from nidecode.data.nwb import read_session
from nidecode.data.responses import ALLEN_UNIT_FILTERS, select_units, spike_counts
from nidecode.data.session_clock import Protocol
from nidecode.data.simulate import AnimalSpec, simulate_session, write_nwb
from nidecode.data.stimuli import Canvas
from nidecode.studies.false_positives import real_arm, real_arm_markdown, skipped_sessions
from nidecode.studies.fidelity import (
    METRIC_COLUMNS,
    comparison_markdown,
    comparison_row,
    real_side,
    session_block_statistics,
)

ROOT = Path(__file__).resolve().parents[1]
N_UNITS = 8
REPEATS = 6  # 243 conditions x 6 = 1,458 presentations, 364 s: above MIN_PRESENTATIONS
GOOD = ("715093703", "M3-left")  # usable; the second name is not an integer
NO_METRICS = "fc-session_A"  # usable epoch, no scene or grating metrics (functional_connectivity)
UNUSABLE = {"visl_only": "no VISp units", "few_pass": "fewer than 5",
            "short": "short epoch", "gap": "interrupted epoch"}


def _session(folder: Path, name: str, seed: int, areas: list[str], failing: int = 0,
             n_presentations: int | None = None, gap_s: float = 0.0,
             metrics: bool = True) -> list[dict]:
    """One session in the exchange format: N_UNITS Poisson units over the gabor conditions,
    ``failing`` of them above Allen's amplitude_cutoff, the first ``n_presentations`` only,
    a pause of ``gap_s`` after the first half; its units.csv.gz rows."""
    rng = np.random.default_rng(seed)
    cond = rng.permutation(np.repeat(np.arange(len(gabor_conditions())), REPEATS))
    cond = cond[:n_presentations]
    start = 80.0 + np.arange(len(cond)) * 0.25
    start[len(cond) // 2:] += gap_s
    tuning = rng.gamma(4.0, 0.25, (len(gabor_conditions()), N_UNITS))
    slow = np.exp(0.3 * np.sin(2 * np.pi * start / 200))[:, None]  # shared slow drift
    counts = rng.poisson(tuning[cond] * slow)
    table = pd.DataFrame([gabor_conditions()[c] for c in cond],
                         columns=["x_position", "y_position", "orientation"])
    ids = np.arange(N_UNITS) + 1000 * seed
    save_epoch(GaborEpoch(name, "allen", counts, start, cond, ids, np.array(areas)), folder,
               table=table)
    rows = []
    for k, (u, area) in enumerate(zip(ids, areas, strict=True)):
        row = {"ecephys_session_id": name, "ecephys_unit_id": int(u),
               "ecephys_structure_acronym": area, "quality": "good",
               "amplitude_cutoff": 0.5 if k < failing else 0.01, "presence_ratio": 0.99,
               "isi_violations": 0.1}
        # Allen's analysis metrics; a functional_connectivity session has them empty.
        row.update({c: (rng.uniform(0.1, 0.9) if metrics else np.nan) for c in METRIC_COLUMNS})
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mixed")
    visp = ["VISp"] * (N_UNITS - 1) + ["VISl"]
    rows = (_session(out, GOOD[0], 1, visp) + _session(out, GOOD[1], 2, visp)
            + _session(out, NO_METRICS, 3, visp, metrics=False)
            + _session(out, "visl_only", 4, ["VISl"] * N_UNITS)
            + _session(out, "few_pass", 5, visp, failing=N_UNITS - 3)
            + _session(out, "short", 6, visp, n_presentations=MIN_PRESENTATIONS - 100)
            + _session(out, "gap", 7, visp, gap_s=2 * MAX_GAP_S))
    pd.DataFrame(rows).to_csv(out / "units.csv.gz", index=False)
    return out


def test_each_unusable_session_is_refused_with_its_reason_before_decoding(folder):
    for name in (*GOOD, NO_METRICS):
        epoch = load_epoch(folder, name, ("VISp",), dict(ALLEN_UNIT_FILTERS))
        assert epoch.skipped is None and epoch.counts.shape == (243 * REPEATS, N_UNITS - 1)
    reasons = {name: load_epoch(folder, name, ("VISp",), dict(ALLEN_UNIT_FILTERS))
               for name in UNUSABLE}
    assert "no VISp units" in reasons["visl_only"].skipped
    assert "'VISl': 8" in reasons["visl_only"].skipped  # what the session has instead
    few = reasons["few_pass"]
    assert f"fewer than {MIN_UNITS}" in few.skipped and few.info["n_units"] == 2
    assert f"fewer than {MIN_PRESENTATIONS}" in reasons["short"].skipped
    assert "interrupted" in reasons["gap"].skipped and "pauses 60 s" in reasons["gap"].skipped
    assert all(e.counts.size == 0 for e in reasons.values())


def test_the_real_arm_skips_each_with_one_line_and_tables_the_rest(folder):
    arm = real_arm(folder, decoders={"glm": {"C": 1.0}}, n_permutations=0)
    skipped = dict(skipped_sessions(arm))
    assert set(skipped) == set(UNUSABLE)  # a session without metrics is decoded all the same
    assert "no VISp units" in skipped["visl_only"] and "fewer than" in skipped["few_pass"]
    done = arm[arm.skipped.isna()]
    assert set(done.session) == {*GOOD, NO_METRICS}
    assert done.accuracy.notna().all() and (done.n_time_null == 9).all()
    md = real_arm_markdown(arm, group_size=2, n_random=3)
    assert all(f"Skipped: {name} (" in md for name in UNUSABLE)
    assert "| block | glm | p_time | 3 |" in md  # the three usable sessions only


def test_the_real_arm_benchmark_prints_the_skip_lines(folder, tmp_path, monkeypatch, capsys):
    mod = _module("false_positives")
    out = tmp_path / "records.csv"
    monkeypatch.setattr("sys.argv", ["false_positives.py", "--real", str(folder),
                                     "--real-decoders", "glm", "--permutations", "0",
                                     "--out", str(out)])
    mod.main()
    printed = capsys.readouterr()
    lines = [s for s in printed.err.splitlines() if s.startswith("skipped ")]
    assert sorted(s.split(":")[0] for s in lines) == sorted(f"skipped {n}" for n in UNUSABLE)
    assert f"Real arm: 3 of {3 + len(UNUSABLE)} sessions" in printed.out
    assert "No group of 9: 3 sessions." in printed.out
    records = pd.read_csv(out)
    assert set(records[records.skipped.notna()].session) == set(UNUSABLE)


def test_fidelity_real_side_leaves_out_what_it_cannot_use(folder):
    real = real_side(folder)
    assert list(real.sessions.session) == sorted([*GOOD, NO_METRICS])
    assert set(real.sessions.visp_units) == {N_UNITS - 1}  # a name that is not an integer too
    left = {name: (rows, why) for name, rows, why in real.left_out}
    assert {n for n, (rows, _) in left.items() if rows == "every row"} == set(UNUSABLE)
    assert left[NO_METRICS][0] == "the scene and grating rows"
    assert "functional_connectivity" in left[NO_METRICS][1]
    # The scene and grating metrics of the two sessions that have them, VISp units passing
    # the filters only.
    assert len(real.block) == 2 * (N_UNITS - 1) and real.block.notna().all().all()


def test_a_folder_of_functional_connectivity_sessions_reads_no_real_data(folder, tmp_path):
    """Only sessions without scene and grating metrics: those rows say so, nothing crashes."""
    fc = tmp_path / "fc"
    rows = _session(fc, "fc1", 11, ["VISp"] * N_UNITS, metrics=False)
    pd.DataFrame(rows).to_csv(fc / "units.csv.gz", index=False)
    real = real_side(fc)
    assert len(real.sessions) == 1 and real.block.empty
    sim = pd.Series([0.2, 0.4, 0.6])
    table = pd.DataFrame([comparison_row("c", "gOSI (per unit)", real.block.g_osi_sg, sim),
                          comparison_row("a", "probe", real.sessions.probe_trial, sim)])
    assert table.real_n.tolist() == [0, 1] and table.inside_iqr.iloc[0] is None
    md = comparison_markdown(table).splitlines()
    assert md[2] == ("| (c) | gOSI (per unit) | no real data | 0.4 [0.3, 0.5] (3) |  | "
                     "no real data |")
    assert md[3].endswith(("| yes |", "| **no** |"))


def test_the_block_order_travels_and_an_undecodable_one_is_left_out(tmp_path):
    """The exchange format keeps the session's block order; a session whose blocks lack a
    pseudo-class is left out with the drift control's reason, by both real-data tools."""
    rows = _session(tmp_path, "ok", 21, ["VISp"] * N_UNITS)
    rows += _session(tmp_path, "scenes_only", 22, ["VISp"] * N_UNITS)
    pd.DataFrame(rows).to_csv(tmp_path / "units.csv.gz", index=False)
    path = tmp_path / "gabor" / "scenes_only.npz"
    d = dict(np.load(path))
    d["block_order"] = np.array(["natural_scenes"] * 3)
    np.savez_compressed(path, **d)
    assert load_epoch(tmp_path, "scenes_only").block_order == ("natural_scenes",) * 3
    assert load_epoch(tmp_path, "ok").block_order[:2] == ("static_gratings", "natural_scenes")
    arm = real_arm(tmp_path, decoders={"glm": {"C": 1.0}}, n_permutations=0)
    assert [s for s, _ in skipped_sessions(arm)] == ["scenes_only"]
    real = real_side(tmp_path)
    assert list(real.sessions.session) == ["ok"]
    assert [(s, rows_) for s, rows_, _ in real.left_out] == [("scenes_only", "every row")]


# ------------------------------------------------------------ the exporter on Allen-layout NWB


def _module(name: str):
    spec = importlib.util.spec_from_file_location(
        name, ROOT / "benchmarks" / "studies" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def nwb_files(tmp_path_factory) -> dict[str, Path]:
    """One simulated session on Allen's clock (a gabor epoch first) written as Allen-layout
    NWB files: as simulated, with a short epoch, with an interrupted one, with its units all
    in LGd, and without scene and grating presentations (a functional_connectivity file)."""
    tmp = tmp_path_factory.mktemp("nwb")
    # Two repeats: the Fano factor needs two presentations of the preferred stimulus.
    sim = simulate_session(AnimalSpec("S0", seed=3, n_units={"VISp": 30, "LGd": 4}),
                           Protocol(repeats=2, blanks_gratings=2, blanks_scenes=2),
                           Canvas(20, 32))
    gab = sim.blocks["gabors"]

    def keep(idx: np.ndarray):
        return replace(sim, blocks={**sim.blocks, "gabors": {
            k: (v[idx] if isinstance(v, np.ndarray) else v) for k, v in gab.items()}})

    n = len(gab["start"])
    variants = {"S0": sim, "short": keep(np.arange(MIN_PRESENTATIONS - 1)),
                # 200 presentations (50 s) missing from the middle
                "gap": keep(np.r_[0:n // 2, n // 2 + 200:n]),
                "lgd": replace(sim, channel_area={k: "LGd" for k in sim.channel_area})}
    paths = {}
    for name, s in variants.items():
        paths[name] = tmp / f"{name}.nwb"
        write_nwb(s, paths[name])
    paths["fc"] = tmp / "fc.nwb"
    write_nwb(sim, paths["fc"])
    with h5py.File(paths["fc"], "r+") as f:
        for block in ("natural_scenes", "static_gratings"):
            del f[f"intervals/{block}_presentations"]
    paths["sim"] = sim
    return paths


def test_the_exporter_writes_the_scene_and_grating_metrics(nwb_files, tmp_path, monkeypatch,
                                                           capsys):
    out = tmp_path / "exported"
    files = [str(nwb_files[k]) for k in ("S0", "short", "gap", "lgd", "fc")]
    monkeypatch.setattr("sys.argv", ["export_gabor.py", str(out), *files])
    assert _module("export_gabor").main() == 0
    err = capsys.readouterr().err
    skipped = {line.split(":")[0].split("/")[-1] for line in err.splitlines()
               if line.startswith("skipped ")}
    assert skipped == {"short.nwb", "gap.nwb", "lgd.nwb", "fc.nwb"}
    assert "interrupted" in err and f"fewer than {MIN_PRESENTATIONS}" in err
    assert "functional_connectivity" in err and "no units in areas" in err
    assert epoch_sessions(out) == ["S0"]  # the file's session id, not an integer
    assert load_epoch(out, "S0").block_order == ALLEN_BLOCK_ORDER  # Allen's clock, kept

    units = pd.read_csv(out / "units.csv.gz")
    session = read_session(nwb_files["S0"])
    # The same function as the simulated side of the fidelity table, on the file's own
    # presentations ...
    want = session_block_statistics(session, session.units.area.eq("VISp").to_numpy())
    got = units.set_index("ecephys_unit_id")[list(METRIC_COLUMNS)].reindex(want.index)
    pd.testing.assert_frame_equal(got, want, check_names=False, rtol=1e-9)
    # ... whose rates are the spikes in the scene presentations, counted from the simulation.
    sim = nwb_files["sim"]
    ns = sim.blocks["natural_scenes"]
    start = np.sort(ns["start"])
    visp = np.flatnonzero(sim.unit_area == "VISp")
    rates = spike_counts([sim.spike_times[u] for u in visp], start, start + 0.25).mean(0) / 0.25
    np.testing.assert_allclose(got.firing_rate_ns.to_numpy(), rates)
    for col in ("lifetime_sparseness_ns", "lifetime_sparseness_sg", "g_osi_sg"):
        assert got[col].dropna().between(0, 1 + 1e-12).all()  # NaN: silent in every condition

    # The fidelity table's real side reads the exported folder: every row has real data.
    real = real_side(out)
    assert real.left_out == [] and list(real.sessions.session) == ["S0"]
    assert len(real.block) == int(select_units(session, ("VISp",), ALLEN_UNIT_FILTERS).sum())
    sim_side = session_block_statistics(session, select_units(session, ("VISp",),
                                                              ALLEN_UNIT_FILTERS))
    rows = pd.DataFrame([comparison_row("c", c, real.block[c], sim_side[c])
                         for c in METRIC_COLUMNS])
    assert (rows.real_n > 0).all() and "no real data" not in comparison_markdown(rows)
