"""Fidelity of the simulator against real Allen sessions: one table, the same code on both.

    .venv/bin/python benchmarks/fidelity_real.py ../shared/data/allen-real \\
        [--configfile config/config.yaml ...] [--animals S0,M0] [--override '{...}'] \\
        [--simulation '{"drift": {...}}'] [--repeats 10] [--real-cache real.pkl] [--save all.pkl]

Real side: every session of FOLDER (the gabor-epoch exchange format, nidecode.data.gabors:
gabor/<session>.npz and units.csv.gz; read, never copied). Simulated side: every animal of the
config (default config/config.yaml; --override sets AnimalSpec fields of every animal,
--simulation merges into the config's simulation section), simulated, written through the NWB
writer and read back by the reader, as the workflow does. On both: VISp units passing Allen's
default filters (AllenSDK's UNIT_FILTER_DEFAULTS); the time-label probe (GLM, both splits, no
block relabellings), the slow drift of the gabor epoch's condition-removed counts and Allen's
unit statistics in natural scenes and static gratings (nidecode.studies.fidelity_real; Allen's
own values from units.csv.gz on the real side). Prints markdown tables (docs/simulation.md,
"Fidelity against real sessions"). The gabor epoch does not depend on simulation.repeats (its
own generators); which units pass the filters and the unit statistics do. About 10 s per
simulated animal at 10 repeats and 2 s per real session on one core.
"""

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from snakemake.utils import update_config  # noqa: E402

from nidecode.config import validate_config  # noqa: E402
from nidecode.data.responses import ALLEN_UNIT_FILTERS, select_units  # noqa: E402
from nidecode.data.simulate import AnimalSpec, Protocol, simulate_session  # noqa: E402
from nidecode.data.stimuli import Canvas  # noqa: E402

GLM = {"glm": {"C": 1.0}}
SPLITS = ("trial", "block")


def probe(epoch) -> dict[str, float]:
    """The time-label probe: GLM mean balanced accuracy over the three folds, per split."""
    from nidecode.jobs.drift_control import drift_control_session

    return {split: drift_control_session(epoch, split, GLM, max_relabellings=0)[0]
            ["mean_balanced_accuracy"] for split in SPLITS}


def real_side(folder: str) -> dict:
    """Every real session's probe, drift statistics and VISp unit count, and Allen's unit
    metrics, VISp units passing the default filters."""
    from nidecode.data.gabors import epoch_sessions, load_epoch, unit_table
    from nidecode.studies.fidelity_real import drift_statistics, real_units

    units = unit_table(folder)
    sessions = []
    for s in epoch_sessions(folder):
        t0 = time.perf_counter()
        epoch = load_epoch(folder, s, ("VISp",), ALLEN_UNIT_FILTERS, units)
        row = {"session": s, "visp_units": epoch.counts.shape[1], **probe(epoch),
               **drift_statistics(epoch)}
        sessions.append(row)
        print(f"real {s}: {row['visp_units']} units, trial {row['trial']:.3f} block "
              f"{row['block']:.3f} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return {"sessions": sessions, "units": real_units(folder, ("VISp",), ALLEN_UNIT_FILTERS)}


def simulated_side(config: dict, animals: list[str], protocol: Protocol, canvas: Canvas,
                   override: dict) -> dict:
    """The same numbers on each simulated animal, written as NWB and read back."""
    import tempfile

    from nidecode.data.gabors import session_epoch
    from nidecode.data.nwb import read_session
    from nidecode.data.simulate import write_nwb
    from nidecode.studies.fidelity_real import drift_statistics, session_unit_metrics

    sessions, units = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in animals:
            t0 = time.perf_counter()
            spec = replace(AnimalSpec.from_config(config, name), **override)
            path = Path(tmp) / f"{name}.nwb"
            write_nwb(simulate_session(spec, protocol, canvas), path)
            session = read_session(path, "simulated")
            mask = select_units(session, ("VISp",), ALLEN_UNIT_FILTERS)
            epoch = session_epoch(session, ("VISp",), ALLEN_UNIT_FILTERS, "simulated", name)
            row = {"session": name, "blind": bool(spec.stimulus_blind),
                   "visp_units": epoch.counts.shape[1], **probe(epoch),
                   **drift_statistics(epoch)}
            sessions.append(row)
            if not spec.stimulus_blind:
                units.append(session_unit_metrics(session, mask).assign(session=name))
            path.unlink()
            print(f"simulated {name}: {row['visp_units']} units, trial {row['trial']:.3f} "
                  f"block {row['block']:.3f} ({time.perf_counter() - t0:.1f} s)",
                  file=sys.stderr)
    return {"sessions": sessions, "units": pd.concat(units, ignore_index=True)}


def real_table(config: dict, animals: list[str], protocol: Protocol, canvas: Canvas,
               folder: str, override: dict, cache: str | None, save: str | None) -> None:
    """Print the real-vs-simulated fidelity table (markdown)."""
    import pickle

    from nidecode.studies.fidelity_real import ACF_LAGS_S, DRIFT_BINS_S, compare, summary

    if cache and Path(cache).is_file():
        real = pickle.loads(Path(cache).read_bytes())
    else:
        real = real_side(folder)
        if cache:
            Path(cache).write_bytes(pickle.dumps(real))
    sim = simulated_side(config, animals, protocol, canvas, override)
    if save:
        Path(save).write_bytes(pickle.dumps({"real": real, "sim": sim}))
    rs = pd.DataFrame(real["sessions"])
    ss = pd.DataFrame(sim["sessions"])
    informative, blind = ss[~ss.blind], ss[ss.blind]

    print("| time-label probe, GLM | sessions | mean | 5 % | 25 % | 50 % | 75 % | 95 % | "
          "KS vs real |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for split in SPLITS:
        for label, df in ((f"real, {split} split", rs),
                          (f"simulated, {split} split", informative),
                          (f"simulated N0 (stimulus-blind), {split} split", blind)):
            if df.empty:
                continue
            q = summary(df[split])
            ks = (f"{compare(df[split], rs[split])['ks']:.2f}" if df is not rs else "")
            print(f"| {label} | {q['n']} | {q['mean']:.3f} | {q['q5']:.3f} | {q['q25']:.3f} | "
                  f"{q['q50']:.3f} | {q['q75']:.3f} | {q['q95']:.3f} | {ks} |")
    print()
    print("| quantity | unit | simulated median | real median [IQR] | KS | inside IQR |")
    print("| --- | --- | --- | --- | --- | --- |")

    def row(what: str, per: str, s, r, fmt: str = ".3f") -> None:
        c = compare(s, r)
        print(f"| {what} | {per} | {c['sim_median']:{fmt}} | {c['real_median']:{fmt}} "
              f"[{c['real_q25']:{fmt}}, {c['real_q75']:{fmt}}] | {c['ks']:.2f} | "
              f"{'yes' if c['inside'] else '**no**'} |")

    def cat(df: pd.DataFrame, key: str) -> np.ndarray:
        return np.concatenate([np.atleast_1d(v) for v in df[key]])

    for probe_split in SPLITS:
        row(f"time-label probe, {probe_split} split", "session", informative[probe_split],
            rs[probe_split])
    for bin_s in DRIFT_BINS_S:
        row(f"excess variance of {bin_s:g}-s means beyond Poisson, relative", "unit",
            cat(informative, f"excess_var_{bin_s:g}s"), cat(rs, f"excess_var_{bin_s:g}s"))
    for bin_s in DRIFT_BINS_S:
        row(f"shared fraction, {bin_s:g}-s bins", "session",
            informative[f"shared_fraction_{bin_s:g}s"], rs[f"shared_fraction_{bin_s:g}s"])
    for lag in ACF_LAGS_S:
        row(f"autocorrelation of 30-s residuals at {lag:g} s", "unit",
            cat(informative, f"acf_{lag:g}s"), cat(rs, f"acf_{lag:g}s"))
    su, ru = sim["units"], real["units"]
    for key, what, fmt in (
            ("firing_rate_ns", "rate in natural scenes (Hz)", ".2f"),
            ("firing_rate_sg", "rate in static gratings (Hz)", ".2f"),
            ("log_ratio", "ln((ns + 0.1) / (sg + 0.1))", ".3f"),
            ("lifetime_sparseness_ns", "lifetime sparseness, scenes", ".3f"),
            ("lifetime_sparseness_sg", "lifetime sparseness, gratings", ".3f"),
            ("image_selectivity_ns", "image selectivity", ".3f"),
            ("g_osi_sg", "gOSI, gratings", ".3f"),
            ("fano_ns", "Fano factor, scenes", ".2f"),
            ("fano_sg", "Fano factor, gratings", ".2f")):
        row(what, "unit", su[key], ru[key], fmt)
    row("VISp units passing the default filters", "session", informative.visp_units,
        rs.visp_units, ".0f")
    print()
    print("| log ratio ln((ns + 0.1) / (sg + 0.1)) | units | mean | SD | % > 0 | "
          "per-session mean, range |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, u, by in (("real", ru, "ecephys_session_id"), ("simulated", su, "session")):
        lr = u.log_ratio.to_numpy()
        per = u.groupby(by).log_ratio.mean()
        print(f"| {label} | {len(lr)} | {lr.mean():.3f} | {lr.std(ddof=1):.3f} | "
              f"{100 * np.mean(lr > 0):.0f} | {per.min():.2f} to {per.max():.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", help="real sessions in the gabor-epoch exchange format")
    ap.add_argument("--configfile", nargs="+", default=[str(ROOT / "config/config.yaml")])
    ap.add_argument("--animals", default=None, help="comma-separated; default: every animal")
    ap.add_argument("--override", default="{}", help="JSON of AnimalSpec fields for every animal")
    ap.add_argument("--simulation", default="{}", help="JSON merged into config simulation")
    ap.add_argument("--repeats", type=int, default=None, help="default: the config's")
    ap.add_argument("--real-cache", default=None,
                    help="pickle of the real side's numbers (made if absent)")
    ap.add_argument("--save", default=None, help="pickle every number here")
    args = ap.parse_args()
    config: dict = {}
    for f in args.configfile:
        update_config(config, yaml.safe_load(Path(f).read_text()))
    if args.repeats:
        update_config(config, {"simulation": {"repeats": args.repeats}})
    update_config(config, {"simulation": json.loads(args.simulation)})
    config = validate_config(config)
    animals = (args.animals.split(",") if args.animals
               else list(config["simulation"]["animals"]))
    t0 = time.perf_counter()
    real_table(config, animals, Protocol.from_config(config),
               Canvas.from_config(config, "simulation"), args.folder,
               json.loads(args.override), args.real_cache, args.save)
    print(f"wall time {time.perf_counter() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
