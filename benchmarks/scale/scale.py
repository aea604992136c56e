#!/usr/bin/env python3
"""Per-rule time and memory at 10 and at Allen's 50 repeats, with each rule's growth exponent.

Runs the main job's analyses on one simulated animal (``--session``, default M0, with its
default units; no cross-animal combos, as issue 29's measurement) once per ``--repeats``
value, each in its own working folder under ``--workdir`` (``snakemake --directory``), with
``config/config.yaml`` and ``simulation.repeats`` set (``config/allen_scale.yaml`` also gives
the animals Allen's VISp unit counts; here only the repeats change, so that the growth is the
trials'). Every rule's
``benchmark:`` file gives its seconds and peak memory; the table sums them per rule and prints,
for the first and last repeats, the growth (t_last / t_first) and its exponent
log(growth) / log(repeats_last / repeats_first): 1 is linear in the trials, 2 quadratic.

    python benchmarks/scale/scale.py --workdir /tmp/scale --repeats 10 50 --cores 2 \\
        [--json docs/run/scale.json]

Each run's wall time (the whole ``snakemake`` call) is printed under the table.

``--existing DIR ...`` reads finished runs instead (one working folder per ``--repeats``
value, each holding ``results/benchmarks``), for the whole main job, e.g. the default one and
the ``config/allen_scale.yaml`` one:

    python benchmarks/scale/scale.py --existing /tmp/main10 /tmp/main50 --repeats 10 50 \
        --json docs/run/scale_main.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[2]


def layer(session: str, repeats: int) -> dict:
    """The main job on one animal at ``repeats``, without cross-animal combos."""
    return {"sessions": [session], "simulation": {"repeats": repeats},
            "decoding": {"combo_generators": [], "null_combos": False}}


def run(workdir: Path, session: str, repeats: int, cores: int) -> float:
    """One snakemake run at ``repeats``; its wall seconds."""
    workdir.mkdir(parents=True, exist_ok=True)
    layer_file = workdir / "layer.yaml"
    layer_file.write_text(yaml.safe_dump(layer(session, repeats)))
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--directory",
           str(workdir), "--configfile", str(ROOT / "config" / "config.yaml"), str(layer_file)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow")}
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - t0
    if res.returncode:
        raise SystemExit(f"{repeats} repeats: snakemake failed\n{res.stdout[-4000:]}")
    return wall


def per_rule(workdir: Path) -> pd.DataFrame:
    """Seconds and peak memory (max RSS, MB) per rule from the run's benchmark files."""
    rows = []
    for f in sorted((workdir / "results" / "benchmarks").rglob("*.tsv")):
        d = pd.read_csv(f, sep="\t")
        rule = f.relative_to(workdir / "results" / "benchmarks").parts[0]
        rows.append({"rule": rule, "s": float(d.s.iloc[0]),
                     "max_rss_mb": float(pd.to_numeric(d.max_rss, errors="coerce").iloc[0])})
    df = pd.DataFrame(rows)
    return df.groupby("rule").agg(jobs=("s", "size"), s=("s", "sum"),
                                  max_rss_mb=("max_rss_mb", "max"))


def table(results: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """One row per rule: seconds and peak MB at each repeats, growth and exponent."""
    reps = sorted(results)
    out = pd.concat({r: results[r] for r in reps}, axis=1)
    out.columns = [f"{col}@{r}" for r, col in out.columns]
    lo, hi = reps[0], reps[-1]
    if lo != hi:
        growth = out[f"s@{hi}"] / out[f"s@{lo}"]
        out["growth"] = growth
        out["exponent"] = growth.map(lambda g: math.log(g) / math.log(hi / lo))
    return out.sort_values(f"s@{hi}", ascending=False)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--session", default="M0")
    ap.add_argument("--repeats", type=int, nargs="+", default=[10, 50])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--existing", type=Path, nargs="+",
                    help="finished runs' working folders, one per --repeats value")
    ap.add_argument("--json", type=Path, help="write the table and wall times here")
    args = ap.parse_args(argv)
    if args.existing is None and args.workdir is None:
        ap.error("give --workdir (run) or --existing (read finished runs)")
    if args.existing is not None and len(args.existing) != len(args.repeats):
        ap.error("--existing needs one folder per --repeats value")
    results, walls = {}, {}
    for i, r in enumerate(args.repeats):
        if args.existing is not None:
            results[r] = per_rule(args.existing[i])
            continue
        walls[r] = run(args.workdir / f"repeats{r}", args.session, r, args.cores)
        results[r] = per_rule(args.workdir / f"repeats{r}")
    t = table(results)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(t.round(2).to_string())
    for r in args.repeats:
        wall = f", wall {walls[r]:.1f} s on {args.cores} cores" if r in walls else ""
        what = args.session if args.existing is None else "the run"
        print(f"{what} at {r} repeats: {results[r].jobs.sum()} jobs, "
              f"{results[r].s.sum():.1f} job-s{wall}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "session": args.session if args.existing is None else "all",
            "existing": [str(p) for p in args.existing or []],
            "cores": args.cores, "repeats": args.repeats,
            "wall_s": {str(r): round(w, 1) for r, w in walls.items()},
            "rules": t.reset_index().round(3).to_dict(orient="records")}, indent=1) + "\n")


if __name__ == "__main__":
    main()
