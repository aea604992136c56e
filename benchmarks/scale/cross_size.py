"""The SVC on W across animals at 2, 4 and 8 training animals: time, peak memory and the fit.

On a finished run's responses (``config/allen_scale.yaml`` for Allen's size), one test animal
and the first k of the other animals as training animals, for each k given: the cross-animal
job's own function (``nidecode.jobs.runner.cross``, the SVC on W, ``train`` mode, block split)
with ``max_train_trials`` as given, each in a fresh process with one BLAS thread (as a
one-thread job runs), whose wall time and peak resident
memory (the child's own ``ru_maxrss``) are printed with the training trials and the fit. With
``--exact-upto K`` the combos of at most K training animals also run the exact fit
(``max_train_trials`` None), for the ensemble's loss against it.

    .venv/bin/python benchmarks/scale/cross_size.py RESULTS --test M0 \
        --train S0,S1,S2,S3,S4,M1,M2,M3 --counts 2,4,8 --budget 12000 --exact-upto 2 \
        [--json docs/run/cross_size.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def one(results: Path, train: list[str], test: str, budget: int | None) -> dict:
    """Run one cross fit in this process (the child's side)."""
    sys.path.insert(0, str(ROOT / "workflow"))
    from nidecode.common.io import open_netcdf
    from nidecode.jobs.runner import cross
    from nidecode.jobs.scope import Scope

    stimuli = open_netcdf(results / "stimuli.nc")
    train_ds = [open_netcdf(results / "responses" / f"{s}.nc") for s in train]
    test_ds = [open_netcdf(results / "responses" / f"{test}.nc")]
    from threadpoolctl import threadpool_limits

    t0 = time.perf_counter()
    with threadpool_limits(1):  # as a one-thread baselines_cross job runs (scripting.run)
        out, _ = cross(train_ds, test_ds, stimuli, "train", Scope(split="block"), 0.3,
                       name="svc_w", params={"C": 1.0, "gamma": "scale",
                                             "max_train_trials": budget})
    return {"train": train, "test": test, "budget": budget, "n_train": out["n_train"],
            "balanced_accuracy": out["balanced_accuracy"], "fit": out.get("fit"),
            "s": time.perf_counter() - t0,
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def size_table(rows: list[dict]) -> str:
    """docs/benchmarks.md's table of one run: every fit's trials, time and peak."""
    lines = ["| training animals | training trials | fit | balanced accuracy | s | s per 1,000 "
             "training trials | peak resident MB |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {len(r['train'])} ({'+'.join(r['train'])}) | {r['n_train']:,} | "
                     f"{r['fit']} | {r['balanced_accuracy']:.3f} | {r['s']:.1f} | "
                     f"{1000 * r['s'] / r['n_train']:.2f} | {r['peak_mb']:,} |")
    return "\n".join(lines)


def loss_table(rows: list[dict]) -> str:
    """docs/benchmarks.md's table: each combo that ran both fits, exact against ensemble."""
    pairs: dict[str, dict] = {}
    for r in rows:
        key = f"{'+'.join(r['train'])} → {r['test']}"
        pairs.setdefault(key, {})["exact" if r["budget"] is None else "ensemble"] = r
    lines = ["| combo | exact | ensemble | ensemble − exact | s (exact) | peak MB (exact) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for key, p in pairs.items():
        if len(p) < 2:
            continue
        e, n = p["exact"], p["ensemble"]
        diff = round(n["balanced_accuracy"] - e["balanced_accuracy"], 3)
        lines.append(f"| {key}{' (null)' if key.endswith('N0') else ''} | "
                     f"{e['balanced_accuracy']:.3f} | {n['balanced_accuracy']:.3f} | "
                     f"{'0.000' if diff == 0 else f'{diff:+.3f}'} | {n['s']:.1f} ({e['s']:.1f}) | "
                     f"{n['peak_mb']:,} ({e['peak_mb']:,}) |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, nargs="?")
    ap.add_argument("--test", default="M0")
    ap.add_argument("--train", default="S0,S1,S2,S3,S4,M1,M2,M3")
    ap.add_argument("--counts", default="2,4,8")
    ap.add_argument("--budget", type=int, default=12000)
    ap.add_argument("--exact-upto", type=int, default=0)
    ap.add_argument("--combos", default="",
                    help="TRAIN+TRAIN__TEST,...: these combos instead of --test/--train/--counts")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--tables", type=Path, nargs="+",
                    help="print the docs' tables from these JSONs instead: the exact-against-"
                         "ensemble pairs of all, and every fit of the first")
    args = ap.parse_args()
    if args.tables:
        runs = [json.loads(p.read_text())["rows"] for p in args.tables]
        print(loss_table([r for rows in runs for r in rows]) + "\n\n" + size_table(runs[0]))
        return
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(one(Path(spec["results"]), spec["train"], spec["test"],
                             spec["budget"])))
        return
    pool = args.train.split(",")
    combos = ([(c.split("__")[0].split("+"), c.split("__")[1]) for c in args.combos.split(",")]
              if args.combos else
              [(pool[:int(k)], args.test) for k in args.counts.split(",")])
    rows = []
    print("| training animals | training trials | fit | balanced accuracy | wall s | s per 1,000 "
          "training trials | peak resident MB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for train, test in combos:
        k = len(train)
        budgets = [args.budget] + ([None] if k <= args.exact_upto else [])
        for budget in budgets:
            spec = {"results": str(args.results), "train": train, "test": test,
                    "budget": budget}
            proc = subprocess.run([sys.executable, __file__, str(args.results), "--child",
                                   json.dumps(spec)], capture_output=True, text=True)
            if proc.returncode:
                sys.exit(f"{spec}: {proc.stderr[-2000:]}")
            row = json.loads(proc.stdout.strip().splitlines()[-1])  # peak: the child's own
            rows.append(row)
            print(f"| {k} ({'+'.join(train)} → {test}) | {row['n_train']:,} | "
                  f"{row['fit']} | {row['balanced_accuracy']:.3f} | {row['s']:.1f} | "
                  f"{1000 * row['s'] / row['n_train']:.2f} | {row['peak_mb']:,} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
