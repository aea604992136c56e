"""Fidelity of the simulator: simulated sessions beside Allen's published numbers.

Simulates each animal of a config at Allen's 50 repeats and 50 blanks on the configured
session clock (Allen's brain_observatory_1.1 schedule by default), then computes what Allen
printed for real sessions (nidecode.studies.fidelity.ALLEN): the
quick-start scene decoder per fold on
93 VISp units passing the default filters, the fraction of units passing those filters, the
VISp rate during natural scenes and two quality-metric fractions. Prints a markdown table.

    .venv/bin/python benchmarks/studies/fidelity.py [--configfile config/config.yaml ...] \\
        [--animals M0,S0,N0] [--override '{"drive": 0.5}'] [--simulation '{"drift": {...}}']

--override sets per-animal simulation settings for every animal (a calibration sweep);
--simulation merges into the config's simulation section. A benchmark, not a test: about 20 s
per animal on one CPU core.

    .venv/bin/python benchmarks/studies/fidelity.py --glm [--repeats 10]

--glm prints instead the GLM on natural vs artificial (VISp, standardised L2 logistic
regression, 3 folds) in both splits with drift on and off, each session simulated at the
config's settings, written as NWB and read back as the workflow reads it.

    .venv/bin/python benchmarks/studies/fidelity.py --real FOLDER [--animals M0,M1] \
        [--half fit|validate] [--real-sessions ID,ID] [--out table.csv]

--real prints real sessions (a gabor-epoch folder: Allen's, or one
benchmarks/studies/export_gabor.py wrote) beside the config's simulated animals, every
statistic by the same function (nidecode.studies.fidelity.real_side). A real session without
a usable epoch (no VISp unit, fewer than five passing the filters, a short or interrupted
epoch) is left out of every row,
one without scene and grating metrics (functional_connectivity) out of those rows; each is
named with the reason on stderr and under the table, and a row left without real values
reads "no real data". --half keeps one half of the folder's sessions (names sorted,
numerically where all are integers: even positions "fit", odd "validate"), --real-sessions
the named ones: a fit on one half, checked on the other.
"""

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from snakemake.utils import update_config  # noqa: E402

from nidecode.config import validate_config  # noqa: E402
from nidecode.data.responses import ALLEN_UNIT_FILTERS, select_units, spike_counts  # noqa: E402
from nidecode.data.session_clock import Protocol  # noqa: E402
from nidecode.data.simulate import AnimalSpec, simulate_session  # noqa: E402
from nidecode.data.stimuli import Canvas  # noqa: E402
from nidecode.studies.fidelity import (  # noqa: E402
    ALLEN,
    HALVES,
    presentations_with_spikes,
    quickstart_accuracies,
    session_half,
)

N_VISP = 93  # the quick-start session's VISp units after the default filters


def passing(sim) -> np.ndarray:
    """Units of a simulated session that pass AllenSDK's default filters, selected by the
    workflow's own select_units (which reads only ``units`` and ``path``)."""
    units = pd.DataFrame({**sim.quality, "area": sim.unit_area})
    session = SimpleNamespace(units=units, path=f"simulated {sim.animal.name}")
    return select_units(session, tuple(np.unique(sim.unit_area)), ALLEN_UNIT_FILTERS)


def measure(spec: AnimalSpec, protocol: Protocol, canvas: Canvas, seed: int = 0) -> dict:
    t0 = time.perf_counter()
    sim = simulate_session(spec, protocol, canvas)
    ok = passing(sim)
    visp = np.flatnonzero(ok & (sim.unit_area == "VISp"))
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(visp, N_VISP, replace=False)) if len(visp) > N_VISP else visp
    ns = sim.blocks["natural_scenes"]
    order = np.argsort(ns["start"], kind="stable")
    start, frame = ns["start"][order], ns["condition"][order]
    counts = spike_counts([sim.spike_times[u] for u in chosen], start, start + 0.25)
    keep = presentations_with_spikes(counts)
    folds = quickstart_accuracies(counts[keep], frame[keep])
    return {
        "animal": spec.name, "visp_units": len(chosen), "visp_passing": len(visp),
        "folds": folds, "mean": float(folds.mean()),
        "earliest_lowest": bool(np.argmin(folds) == 0),
        "scene_presentations": len(start),
        "units_passing_filters": float(ok.mean()),
        "visp_rate_scenes_hz": float(counts.mean() / 0.25),
        "presence_ratio_above_0.9": float(np.mean(sim.quality["presence_ratio"] > 0.9)),
        "isi_violations_zero": float(np.mean(sim.quality["isi_violations"] == 0)),
        "seconds": time.perf_counter() - t0,
    }


def glm_table(config: dict, animals: list[str], protocol: Protocol, canvas: Canvas) -> None:
    """GLM balanced accuracy per animal, split and drift setting (markdown)."""
    import tempfile

    from nidecode.data.stimuli import render_stimuli
    from nidecode.jobs.runner import within
    from nidecode.jobs.scope import Scope
    from nidecode.studies.false_positives import simulated_responses

    stimuli = render_stimuli(canvas)
    print("| animal | drift | trial split | block split |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for name in animals:
            for drift in (True, False):
                spec = AnimalSpec.from_config(config, name)
                if not drift:
                    spec = replace(spec, drift_unit_sd=0.0, drift_shared_sd=0.0,
                                   drift_settle_sd=0.0, drift_slow_unit_sd=0.0,
                                   drift_slow_shared_sd=0.0)
                ds = simulated_responses(spec, protocol, stimuli, Path(tmp), canvas)
                acc = {}
                for split in ("trial", "block"):
                    scope = Scope(split=split, seed=0)
                    acc[split] = np.mean([within(ds, stimuli, k, scope)["balanced_accuracy"]
                                          for k in range(scope.n_folds)])
                print(f"| {name} | {'on' if drift else 'off'} | {acc['trial']:.3f} | "
                      f"{acc['block']:.3f} |", flush=True)


def real_table(config: dict, animals: list[str], protocol: Protocol, canvas: Canvas,
               folder: Path, override: dict, out: Path | None,
               sessions: list[str] | None = None) -> None:
    """Real Allen sessions (a folder in the gabor-epoch exchange format) against the config's
    simulated animals, every statistic by the same function on both (markdown). Each real
    session left out of some rows is named with the reason on stderr and under the table;
    a row without real values reads "no real data"."""
    import tempfile

    from nidecode.data.gabors import session_epoch
    from nidecode.data.nwb import read_session
    from nidecode.data.simulate import write_nwb
    from nidecode.studies.fidelity import (
        comparison_markdown,
        comparison_row,
        epoch_statistics,
        real_side,
        session_block_statistics,
    )

    t0 = time.perf_counter()
    f = ALLEN_UNIT_FILTERS
    real = real_side(folder, dict(f), sessions)
    for name, rows_, why in real.left_out:
        print(f"real {name}: left out of {rows_}: {why}", file=sys.stderr)
    print(f"real: {len(real.sessions)} sessions ({time.perf_counter() - t0:.0f} s)",
          file=sys.stderr)

    sim_s, sim_u, sim_block = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in animals:
            spec = replace(AnimalSpec.from_config(config, name), **override)
            if spec.stimulus_blind:
                continue
            path = Path(tmp) / f"{name}.nwb"
            write_nwb(simulate_session(spec, protocol, canvas), path)
            session = read_session(path, "simulated")
            s, u = epoch_statistics(session_epoch(session, ("VISp",), f, "simulated", name))
            s["visp_units"] = int((session.units.area == "VISp").sum())
            sim_s.append(s)
            sim_u.append(u)
            sim_block.append(session_block_statistics(session,
                                                      select_units(session, ("VISp",), f)))
            print(f"simulated {name} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    sim_s, sim_u, sim_block = pd.DataFrame(sim_s), pd.concat(sim_u), pd.concat(sim_block)
    real_s, real_u, real_block = real.sessions, real.units, real.block.copy()
    for b in (real_block, sim_block):
        b["log_rate_ratio"] = np.log((b.firing_rate_ns + 0.1) / (b.firing_rate_sg + 0.1))

    rows = []

    def row(group: str, what: str, column: str, real_: pd.DataFrame, sim: pd.DataFrame) -> None:
        rows.append(comparison_row(group, what, real_.get(column, pd.Series(dtype=float)),
                                   sim[column]))

    row("a", "time-label probe, GLM, trial split (per session)", "probe_trial", real_s, sim_s)
    row("a", "time-label probe, GLM, block split (per session)", "probe_block", real_s, sim_s)
    for col, what in (("excess_variance_30s", "excess variance of 30-s bins (CV², per unit)"),
                      ("excess_variance_120s", "excess variance of 120-s bins (CV², per unit)")):
        row("b", what, col, real_u, sim_u)
    row("b", "shared fraction, first PC of 30-s bins (per session)", "shared_fraction_30s",
        real_s, sim_s)
    for lag in (30, 60, 120, 300):
        row("b", f"autocorrelation of 30-s bins at {lag} s (per session)",
            f"autocorrelation_{lag}s", real_s, sim_s)
    row("b", "gabor-epoch rate, Hz (per unit)", "gabor_rate_hz", real_u, sim_u)
    row("b", "gabor tuning: between-condition variance / Poisson (per unit)", "gabor_tuning",
        real_u, sim_u)
    for col, what in (("firing_rate_ns", "rate in scenes, Hz"),
                      ("firing_rate_sg", "rate in gratings, Hz"),
                      ("log_rate_ratio", "ln((ns + 0.1) / (sg + 0.1))"),
                      ("lifetime_sparseness_ns", "lifetime sparseness, scenes"),
                      ("lifetime_sparseness_sg", "lifetime sparseness, gratings"),
                      ("image_selectivity_ns", "image selectivity"),
                      ("g_osi_sg", "gOSI"), ("fano_ns", "Fano factor, scenes"),
                      ("fano_sg", "Fano factor, gratings")):
        row("c", what + " (per unit)", col, real_block, sim_block)
    row("c", "VISp units per session (before filters)", "visp_units", real_s, sim_s)
    table = pd.DataFrame(rows)
    print(comparison_markdown(table))
    print()
    for name, rows_, why in real.left_out:
        print(f"Left out of {rows_}: real session {name} ({why}).")

    def ratio(b: pd.DataFrame) -> str:
        r = b.log_rate_ratio.dropna()
        if not len(r):
            return "no real data"
        return f"{(r > 0).mean():.2f}, log ratio mean (SD) {r.mean():.2f} ({r.std():.2f})"

    print(f"Units firing more in scenes than in gratings: real {ratio(real_block)}; simulated "
          f"{ratio(sim_block)}. {time.perf_counter() - t0:.0f} s.")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
        pd.DataFrame(real.left_out, columns=["session", "left_out_of", "reason"]).to_csv(
            out.with_name(f"{out.stem}_left_out.csv"), index=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configfile", nargs="+", default=[str(ROOT / "config/config.yaml")])
    ap.add_argument("--animals", default=None, help="comma-separated; default: every animal")
    ap.add_argument("--override", default="{}", help="JSON of AnimalSpec fields for every animal")
    ap.add_argument("--simulation", default="{}", help="JSON merged into config simulation")
    ap.add_argument("--repeats", type=int, default=50, help="(not with --glm: the config's)")
    ap.add_argument("--glm", action="store_true", help="the GLM table (drift on and off)")
    ap.add_argument("--visp", type=int, default=0,
                    help="simulate this many VISp units (enough for 93 to pass the filters); "
                    "default: the animal's own")
    ap.add_argument("--scale-drive", type=float, default=1.0,
                    help="multiply every animal's drive (a calibration sweep)")
    ap.add_argument("--real", type=Path, default=None,
                    help="a folder of real sessions in the gabor-epoch exchange format: the "
                    "real-vs-simulated table at the config's repeats")
    ap.add_argument("--real-sessions", default=None,
                    help="with --real: comma-separated session names, only those of the folder")
    ap.add_argument("--half", choices=HALVES, default=None,
                    help="with --real: only one half of the folder's sessions (names sorted, "
                    "numerically if all are integers; even positions 'fit', odd 'validate')")
    ap.add_argument("--out", type=Path, default=None,
                    help="with --real: the table as CSV (and the real sessions left out, with "
                    "their reasons, as OUT_left_out.csv)")
    args = ap.parse_args()
    config: dict = {}
    for f in args.configfile:
        update_config(config, yaml.safe_load(Path(f).read_text()))
    if not (args.glm or args.real):
        update_config(config, {"simulation": {"repeats": args.repeats, "blanks": args.repeats}})
    update_config(config, {"simulation": json.loads(args.simulation)})
    config = validate_config(config)
    animals = (args.animals.split(",") if args.animals
               else list(config["simulation"]["animals"]))
    protocol = Protocol.from_config(config)
    canvas = Canvas.from_config(config, "simulation")
    override = json.loads(args.override)
    if args.glm:
        glm_table(config, animals, protocol, canvas)
        return
    if args.real:
        sessions = args.real_sessions.split(",") if args.real_sessions else None
        if args.half:
            from nidecode.data.gabors import epoch_sessions
            sessions = [n for n in session_half(epoch_sessions(args.real), args.half)
                        if sessions is None or n in sessions]
        real_table(config, animals, protocol, canvas, args.real, override, args.out, sessions)
        return
    rows = []
    for name in animals:
        spec = replace(AnimalSpec.from_config(config, name), **override)
        units = dict(spec.n_units, **({"VISp": args.visp} if args.visp else {}))
        spec = replace(spec, n_units=units, drive=spec.drive * args.scale_drive)
        rows.append(measure(spec, protocol, canvas))
        r = rows[-1]
        print(f"{name}: {' '.join(f'{a:.3f}' for a in r['folds'])} mean {r['mean']:.3f} "
              f"({r['visp_units']} VISp units, {r['seconds']:.0f} s)", file=sys.stderr)

    allen = ALLEN["quickstart_folds"].value
    print("| session | VISp units | per-fold accuracy (5 unshuffled folds) | mean | "
          "earliest fold lowest |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| Allen 791319847 | 93 | {' '.join(f'{a:.3f}' for a in allen)} | "
          f"{np.mean(allen):.3f} | yes |")
    for r in rows:
        print(f"| {r['animal']} | {r['visp_units']} | "
              f"{' '.join(f'{a:.3f}' for a in r['folds'])} | {r['mean']:.3f} | "
              f"{'yes' if r['earliest_lowest'] else 'no'} |")
    informative = [r for r in rows if not config["simulation"]["animals"][r["animal"]]
                   .get("stimulus_blind")]
    if len(informative) > 1:
        per_fold = np.mean([r["folds"] for r in informative], axis=0)
        print(f"| mean of the {len(informative)} informative animals | "
              f"{np.mean([r['visp_units'] for r in informative]):.0f} | "
              f"{' '.join(f'{a:.3f}' for a in per_fold)} | {per_fold.mean():.3f} | "
              f"{'yes' if np.argmin(per_fold) == 0 else 'no'} |")
    print()
    print("| quantity | Allen | simulated (median over animals [min, max]) | Allen source |")
    print("| --- | --- | --- | --- |")
    for key in ("units_passing_filters", "visp_rate_scenes_hz", "presence_ratio_above_0.9",
                "isi_violations_zero", "scene_presentations"):
        vals = np.array([r[key] for r in (informative if key == "visp_rate_scenes_hz"
                                          else rows)])
        pub = ALLEN[key]
        print(f"| {pub.what} | {pub.value:.3g} | {np.median(vals):.3g} "
              f"[{vals.min():.3g}, {vals.max():.3g}] | {pub.source} |")


if __name__ == "__main__":
    main()
