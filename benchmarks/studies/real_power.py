"""Power on real drift: a known pseudo-class signal injected into real Allen gabor epochs,
beside the simulator's power at the same effect.

Every session of a gabor-epoch folder (as the real arm of ``false_positives.py --real`` loads
it: VISp units passing Allen's default filters) gets a known signal on the drift control's
time-only label (six equal stretches, SG NS NS SG NS SG): a seeded ``--fraction`` of its units
fire ``1 + effect`` times as much in one pseudo-class (half of them in NS, half in SG), by
Poisson spikes added to the REAL counts, so the real drift stays underneath
(:mod:`nidecode.studies.power`). The workflow's drift control then decodes it with the same
folds, relabellings and decoders, and the script prints, per effect, split and decoder, the
detection rate at alpha 0.05 of the block-relabelling ``p_time`` (per session; its floor is
0.1, so its rate at 0.1 is printed too), of the exact group test over groups of nine sessions
(the real arm's disjoint and random groups) and of the binomial test, for the real sessions and
for as many simulated stimulus-blind drifting sessions (N0-like, the real arm's simulated
counterpart) given the same injection. Effect 0 is the real arm's false-positive check.

    .venv/bin/python benchmarks/studies/real_power.py --real /work/shared/data/allen-real \
        [--effects 0,0.05,0.1,0.2] [--fraction 0.3] [--sessions N] [--sim-sessions N] \
        [--decoders glm,knn,svc] [--splits block,trial] [--out results/real_power.csv] \
        [--record NAME]

``--record NAME`` also writes the summary table to ``docs/run/real_power.csv`` and the run's
record (name, command, commit, date, wall time) to ``docs/run/real_power.json``
(``--record-as STEM``: ``docs/run/STEM.{csv,json}``, e.g. a second run with other decoders).
"""

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow"))
sys.path.insert(0, str(ROOT / "benchmarks" / "studies"))

from false_positives import write_records  # noqa: E402

from nidecode.studies.false_positives import DECODERS, skipped_sessions  # noqa: E402
from nidecode.studies.power import (  # noqa: E402
    power_markdown,
    power_table,
    real_power,
    simulated_power,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, required=True, help="a gabor-epoch folder")
    ap.add_argument("--effects", default="0,0.05,0.1,0.2",
                    help="gains 1 + effect, comma-separated (0 is the false-positive check)")
    ap.add_argument("--fraction", type=float, default=0.3, help="fraction of units injected")
    ap.add_argument("--sessions", type=int, help="the first N real sessions only")
    ap.add_argument("--sim-sessions", type=int,
                    help="simulated sessions (default: as many as real sessions; 0: none)")
    ap.add_argument("--decoders", default="glm,knn,svc", help="the drift control's decoders")
    ap.add_argument("--splits", default="block,trial")
    ap.add_argument("--seed", type=int, default=0, help="the injection's seed")
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("results/real_power.csv"),
                    help="per-session records (CSV)")
    ap.add_argument("--record", help="write docs/run/real_power.{csv,json} under this name")
    ap.add_argument("--record-as", default="real_power",
                    help="with --record: the files' stem in docs/run/ (a second run beside it)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    # The code that runs: the commit now, and whether workflow/ or benchmarks/ differ from it.
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "workflow", "benchmarks"],
                           cwd=ROOT, capture_output=True, text=True).stdout.strip()
    effects = tuple(float(e) for e in args.effects.split(","))
    decoders = {k: DECODERS[k] for k in args.decoders.split(",")}
    splits = tuple(args.splits.split(","))
    real = real_power(args.real, effects, args.fraction, splits, decoders, args.sessions,
                      args.seed, args.processes)
    for name, why in skipped_sessions(real):
        print(f"skipped {name}: {why}", file=sys.stderr)
    print(f"real: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    n_sim = real.session.nunique() if args.sim_sessions is None else args.sim_sessions
    parts = [real]
    if n_sim:
        parts.append(simulated_power(n_sim, effects, args.fraction, splits, decoders,
                                     seed=args.seed, processes=args.processes))
    results = pd.concat(parts, ignore_index=True)
    write_records(results, args.out)
    table = power_table(results)
    wall = time.perf_counter() - t0
    n_real = real.session.nunique() - len(skipped_sessions(real))
    print(f"Power at alpha 0.05: {n_real} real sessions of {args.real} and {n_sim} simulated "
          f"stimulus-blind sessions; {args.fraction:g} of the VISp units get a gain 1 + effect "
          "in one pseudo-class (half NS, half SG):\n")
    print(power_markdown(table))
    print(f"\n{wall:.0f} s")
    if args.record:
        run = ROOT / "docs" / "run"
        table.round(4).to_csv(run / f"{args.record_as}.csv", index=False)
        procs = "one process" if args.processes == 1 else f"{args.processes} processes"
        record = {"name": args.record,
                  "command": "benchmarks/studies/real_power.py " + " ".join(sys.argv[1:]),
                  "commit": commit + (" (with uncommitted changes)" if dirty else ""),
                  "date": datetime.now(UTC).strftime("%Y-%m-%d"),
                  "wall": f"{wall:.0f} s, {procs} on the 2-core CPU machine, beside other jobs",
                  "real_sessions": int(n_real), "simulated_sessions": int(n_sim),
                  "effects": list(effects), "fraction": args.fraction,
                  "decoders": list(decoders), "splits": list(splits)}
        (run / f"{args.record_as}.json").write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
