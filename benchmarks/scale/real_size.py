"""The ``responses`` step on one session at the size of a real Allen session.

    python benchmarks/scale/real_size.py [--units 2000] [--hours 3] [--rate 5] [--seed 0]
                                   [--dir resources/benchmark] [--no-old] [--json PATH]

(also ``python benchmarks/scale/benchmark.py --only g``)

A real Allen Visual Coding - Neuropixels session holds about 2,000 units on six probes over about
3 hours, some 10^8 spikes. The simulator (nidecode.data.simulate) works on a 5 ms grid of every unit
at once (17 GB for that size), so this script writes a synthetic session in the same NWB layout
instead: write_nwb with the simulator's schedule (Protocol(repeats=50) on Allen's clock: about
6,000 static gratings and 5,950 natural scenes in three ~8-minute blocks each, the other epochs
of Allen's 2.5-hour session, and grey screen after it up to ``--hours``),
running speed and quality metrics, then the units' spike trains written into
units/spike_times with h5py, unit after unit. Spikes are Poisson, piecewise constant over each
presentation: a base rate per unit (log-normal, mean ``--rate`` Hz) times a stimulus gain per
unit and stimulus (visual areas tuned, others barely). Units lie probe by probe and along each
probe from cortex to thalamus, as in Allen's units table, so the workflow's areas (VISp, VISl,
LGd, CA1) come in runs between other areas' units.

The file is cached under ``--dir`` (git-ignored resources/benchmark/) with a JSON note of its
parameters and how long it took to make; it is reused while the parameters match.

Then, each in a fresh child process (peak memory is its VmHWM, see :func:`peak_mb`): read_session +
compute_responses with the config's responses settings (config/config.yaml: areas VISp, VISl,
LGd, CA1, AllenSDK's unit filters, 10 ms counts), as the responses rule runs them; writing the
netCDF output is timed on its own. ``new``: the reader as it is (spike times of the selected
units only, read lazily). ``old``: the reader before it (every unit's spikes read and sorted up
front), for comparison.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workflow"))

# Units along each probe, cortex first (Allen's units tables list probe by probe). 2,000 units.
PROBES: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = (
    ("probeA", (("VISam", 160), ("CA1", 45), ("DG", 45), ("LP", 60))),
    ("probeB", (("VISpm", 160), ("CA1", 45), ("CA3", 50), ("LP", 45))),
    ("probeC", (("VISp", 300), ("CA1", 60), ("DG", 45), ("LGd", 60))),
    ("probeD", (("VISl", 200), ("CA1", 50), ("CA3", 50), ("LGd", 60))),
    ("probeE", (("VISrl", 160), ("CA1", 30), ("DG", 40), ("APN", 50))),
    ("probeF", (("VISal", 230), ("CA1", 20), ("APN", 55))),
)
TUNED_AREAS = ("VISp", "VISl", "VISal", "VISrl", "VISam", "VISpm", "LGd", "LP")
TARGET = {"seconds": 60.0, "peak_mb": 4000.0}


def unit_layout(n_units: int) -> list[str]:
    """Area of every unit in file order, ``PROBES`` scaled to ``n_units`` units."""
    total = sum(n for _, areas in PROBES for _, n in areas)
    out: list[str] = []
    for _, areas in PROBES:
        for area, n in areas:
            out += [area] * int(round(n * n_units / total))
    return (out + [PROBES[-1][1][-1][0]] * n_units)[:n_units]


def _pieces(sched: dict, end: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The session cut into pieces of constant rate: start, duration and stimulus row (0-119
    gratings, 120-237 scenes, -1 for blanks and grey screen), in time order."""
    starts, stims = [], []
    for name, offset in (("static_gratings", 0), ("natural_scenes", 120)):
        blk = sched[name]
        starts.append(blk["start"])
        stims.append(np.where(blk["condition"] >= 0, blk["condition"] + offset, -1))
    start, stim = np.concatenate(starts), np.concatenate(stims)
    order = np.argsort(start)
    start, stim = start[order], stim[order]
    stop = start + 0.25
    # Grey screen (or anything between presentations): pieces of its own at the base rate.
    edges = np.concatenate([[0.0], stop])
    nxt = np.concatenate([start, [end]])
    gap = nxt - edges > 1e-9
    start = np.concatenate([start, edges[gap]])
    dur = np.concatenate([np.full(len(stim), 0.25), (nxt - edges)[gap]])
    stim = np.concatenate([stim, np.full(int(gap.sum()), -1)])
    order = np.argsort(start, kind="stable")
    return start[order], dur[order], stim[order]


def _unit_rates(u: int, area: str, seed: int, rate: float, piece_dur, piece_stim):
    """(rng, expected spikes per piece) of unit ``u``; the rng goes on to draw its spikes."""
    rng = np.random.default_rng([seed, 7, u])
    sigma = 1.0  # log-normal base rate: mean exp(sigma^2 / 2) x the median
    base = float(np.clip(rate * np.exp(rng.normal(-sigma**2 / 2, sigma)), 0.3, 80.0))
    tuning = 0.6 if area in TUNED_AREAS else 0.1
    gain = np.exp(rng.normal(-(tuning**2) / 2, tuning, 238))
    g = np.where(piece_stim >= 0, gain[np.maximum(piece_stim, 0)], 1.0)
    return rng, base * g * piece_dur


def make_session_file(path: Path, n_units: int, hours: float, rate: float, seed: int) -> dict:
    """Write the synthetic real-size session to ``path`` (atomically); returns a summary."""
    import h5py
    import pandas as pd

    from nidecode.data.schedule import read_epochs
    from nidecode.data.session_clock import Protocol, presentation_schedule
    from nidecode.data.simulate import AnimalSpec, SimulatedSession, _quality_metrics, write_nwb
    from nidecode.data.unit_model import running_speed_trace

    t0 = time.perf_counter()
    repeats, blanks = 50, 50
    # Allen's clock (brain_observatory_1.1, 2.5 h); grey screen after it fills ``hours``.
    epochs = read_epochs()
    end_s = float(epochs.stop_time.max())
    if hours * 3600 > end_s + 1.0:
        extra = pd.DataFrame([("spontaneous", -1, end_s, hours * 3600 - 1.0)],
                             columns=list(epochs.columns))
        epochs = pd.concat([epochs, extra], ignore_index=True)
    protocol = Protocol(repeats=repeats, blanks_gratings=blanks, blanks_scenes=blanks,
                        epochs=epochs, seed=seed)
    sched = presentation_schedule(protocol, np.random.default_rng(seed))
    end = float(sched["end_time"]["t"])
    areas = np.array(unit_layout(n_units))
    rng = np.random.default_rng([seed, 1])
    run_t, run_v = running_speed_trace(end, rng)
    channel_area: dict[int, str] = {}
    unit_channel = np.empty(n_units, dtype=np.int64)
    for p_i, (_, probe_areas) in enumerate(PROBES):
        for a_i, (area, _) in enumerate(probe_areas):
            ids = [850_000_000 + p_i * 10_000 + a_i * 100 + c for c in range(8)]
            channel_area.update({c: area for c in ids})
    by_area: dict[str, list[int]] = {}
    for cid, area in channel_area.items():
        by_area.setdefault(area, []).append(cid)
    for k, area in enumerate(areas):
        unit_channel[k] = rng.choice(by_area[area])
    spec = AnimalSpec(name="real_size", seed=seed, n_units={a: int((areas == a).sum())
                                                            for a in dict.fromkeys(areas)})
    sim = SimulatedSession(
        animal=spec,
        blocks=sched,
        unit_area=areas,
        unit_kind=np.array(["synthetic_poisson"] * n_units),
        spike_times=[np.array([1.0])] * n_units,  # placeholders, replaced below
        quality=_quality_metrics(n_units, 0.3, rng),
        running_t=run_t,
        running_speed=run_v,
        channel_area=channel_area,
        unit_channel=unit_channel,
    )
    tmp = path.with_name(f".{path.stem}.partial.nwb")
    write_nwb(sim, tmp)
    layout_s = time.perf_counter() - t0

    piece_start, piece_dur, piece_stim = _pieces(sched, end)
    counts = np.empty(n_units, dtype=np.int64)
    for u in range(n_units):  # first pass: how many spikes each unit has (a contiguous dataset)
        rng_u, lam = _unit_rates(u, areas[u], seed, rate, piece_dur, piece_stim)
        counts[u] = rng_u.poisson(lam).sum()
    ends = np.cumsum(counts)
    with h5py.File(tmp, "a") as f:
        units = f["units"]
        st_attrs = dict(units["spike_times"].attrs)
        ix_attrs = dict(units["spike_times_index"].attrs)
        del units["spike_times"], units["spike_times_index"]
        data = units.create_dataset("spike_times", shape=(int(ends[-1]),), dtype="f8")
        for key, value in st_attrs.items():
            data.attrs[key] = value
        index_dtype = np.uint32 if ends[-1] < 2**32 else np.uint64  # pynwb's smallest fit
        index = units.create_dataset("spike_times_index", data=ends.astype(index_dtype))
        for key, value in ix_attrs.items():
            if key != "target":
                index.attrs[key] = value
        index.attrs.create("target", data.ref, dtype=h5py.ref_dtype)
        offset = 0
        for u in range(n_units):
            rng_u, lam = _unit_rates(u, areas[u], seed, rate, piece_dur, piece_stim)
            c = rng_u.poisson(lam)
            n = int(c.sum())
            assert n == counts[u]
            st = np.repeat(piece_start, c) + rng_u.random(n) * np.repeat(piece_dur, c)
            data[offset : offset + n] = np.sort(st)
            offset += n
        units["firing_rate"][:] = counts / end
    tmp.replace(path)
    return {
        "simulate_s": time.perf_counter() - t0,
        "layout_s": layout_s,
        "n_units": n_units,
        "n_spikes": int(ends[-1]),
        "duration_s": end,
        "n_presentations": int(len(sched["static_gratings"]["start"])
                               + len(sched["natural_scenes"]["start"])),
        "file_mb": path.stat().st_size / 1e6,
    }


def session_file(directory: Path, n_units: int, hours: float, rate: float, seed: int,
                 ) -> tuple[Path, dict, bool]:
    """The cached file (made if missing or made with other parameters), its note, and whether
    it was made now."""
    params = {"n_units": n_units, "hours": hours, "rate": rate, "seed": seed, "version": 2}
    path = directory / f"real_size_u{n_units}_h{hours:g}_r{rate:g}_s{seed}.nwb"
    note = path.with_suffix(".json")
    if path.exists() and note.exists():
        info = json.loads(note.read_text())
        if info.get("params") == params:
            return path, info, False
    directory.mkdir(parents=True, exist_ok=True)
    info = {"params": params, **make_session_file(path, n_units, hours, rate, seed)}
    note.write_text(json.dumps(info, indent=2))
    return path, info, True


def eager_session(path: Path, provenance: str = "simulated"):
    """The reader before lazy spike times: every unit's spikes read at once and sorted."""
    import h5py

    from nidecode.data.nwb import read_session

    session = read_session(path, provenance=provenance)
    with h5py.File(path, "r") as f:
        bounds = np.concatenate([[0], f["units/spike_times_index"][:].astype(np.int64)])
        spikes = f["units/spike_times"][:]
        every = [np.sort(spikes[bounds[k] : bounds[k + 1]]) for k in range(len(bounds) - 1)]
    del spikes
    rows = session.spike_times.rows  # the units read_session keeps (valid channels)
    return dataclasses.replace(session, spike_times=[every[r] for r in rows])


def peak_mb() -> float:
    """This process's peak resident memory (MB): VmHWM on Linux, else ru_maxrss.

    Not ru_maxrss on Linux: it carries over through exec the parent's peak at the fork, so a
    child of a process holding torch would report torch's memory as its own.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def measure(mode: str, path: Path) -> dict:
    """In this process: the responses step on ``path``; times and peak RSS."""
    from nidecode.common.io import write_netcdf
    from nidecode.config import load_config
    from nidecode.data.nwb import read_session
    from nidecode.data.responses import ResponseSettings, compute_responses
    from nidecode.data.stimuli import Canvas, render_stimuli

    settings = ResponseSettings.from_config(load_config(REPO / "config" / "config.yaml"))
    stimuli = render_stimuli(Canvas(12, 20))  # the workflow loads stimuli.nc: not timed
    rss0 = peak_mb()
    t0 = time.perf_counter()
    if mode == "new":
        session = read_session(path, provenance="simulated")
    else:
        session = eager_session(path)
    t1 = time.perf_counter()
    ds = compute_responses(session, stimuli, settings, "real_size", "simulated")
    t2 = time.perf_counter()
    peak = peak_mb()
    with tempfile.TemporaryDirectory(prefix="real_size_") as d:
        t3 = time.perf_counter()
        write_netcdf(ds, Path(d) / "responses.nc")
        write_s = time.perf_counter() - t3
        out_mb = (Path(d) / "responses.nc").stat().st_size / 1e6
    st = session.spike_times
    return {
        "mode": mode,
        "read_s": t1 - t0,
        "compute_s": t2 - t1,
        "seconds": t2 - t0,
        "peak_mb": peak,
        "write_s": write_s,
        "peak_with_write_mb": peak_mb(),
        "rss_before_mb": rss0,
        "output_mb": out_mb,
        "units": int(ds.sizes["unit"]),
        "presentations": int(ds.sizes["presentation"]),
        "spikes_read": int(st.spikes_read) if hasattr(st, "spikes_read") else None,
        "areas": list(settings.areas),
        "time_bin_s": settings.time_bin_s,
    }


def _child(mode: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", mode, str(path)],
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"real_size.py --measure {mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def benchmark(n_units: int = 2000, hours: float = 3.0, rate: float = 5.0, seed: int = 0,
              directory: Path = REPO / "resources" / "benchmark", old: bool = True) -> dict:
    """Make (or reuse) the file, then time the responses step on it: new reader, old reader."""
    print(f"real-size session: {n_units} units, {hours:g} h, {rate:g} Hz ...", file=sys.stderr,
          flush=True)
    path, info, made = session_file(Path(directory), n_units, hours, rate, seed)
    runs = {"new": _child("new", path)}
    if old:
        runs["old"] = _child("old", path)
    return {"file": str(path), "made_now": made, "session": info, "runs": runs}


def rows(result: dict) -> list[tuple[str, str]]:
    """Table rows, as benchmark.py prints them."""
    s = result["session"]
    out = [(
        f"(g) real-size session: {s['n_units']:,} units, {s['duration_s'] / 3600:.1f} h",
        f"{s['n_spikes']:,} spikes, {s['n_presentations']:,} presentations, "
        f"{s['file_mb']:,.0f} MB; made once in {s['simulate_s']:.0f} s"
        + ("" if result["made_now"] else " (cached)"),
    )]
    labels = {"new": "lazy reader (selected units only)", "old": "old reader (all units, sorted)"}
    for mode, r in result["runs"].items():
        read = f", {r['spikes_read']:,} spikes read" if r.get("spikes_read") is not None else ""
        out.append((
            f"    (g) responses, {labels[mode]}",
            f"{r['seconds']:.1f} s (read {r['read_s']:.1f} + compute {r['compute_s']:.1f}), "
            f"peak {r['peak_mb']:,.0f} MB ({r['peak_mb'] - r['rss_before_mb']:,.0f} MB above "
            f"the {r['rss_before_mb']:,.0f} MB after imports){read}; {r['units']} units x "
            f"{r['presentations']:,} presentations; write .nc {r['write_s']:.1f} s "
            f"({r['output_mb']:,.0f} MB, peak {r['peak_with_write_mb']:,.0f} MB)"
            + (f" (targets < {TARGET['seconds']:.0f} s, < {TARGET['peak_mb']:.0f} MB)"
               if mode == "new" else ""),
        ))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--units", type=int, default=2000)
    p.add_argument("--hours", type=float, default=3.0)
    p.add_argument("--rate", type=float, default=5.0, help="mean firing rate (Hz)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dir", type=Path, default=REPO / "resources" / "benchmark")
    p.add_argument("--no-old", dest="old", action="store_false", help="skip the old reader")
    p.add_argument("--json", default=None)
    p.add_argument("--measure", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure[0], Path(args.measure[1]))))
        return
    result = benchmark(args.units, args.hours, args.rate, args.seed, args.dir, args.old)
    table = rows(result)
    width = max(len(r[0]) for r in table)
    print(f"\nresponses at real size (file {result['file']})")
    print("-" * (width + 50))
    for name, value in table:
        print(f"{name:<{width}}  {value}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
