"""The SVCs' ensemble above a trial budget against the exact fit, per animal, on a finished run.

On every session of a finished run (``config/allen_scale.yaml`` for Allen's 50 repeats), in
both splits, for the RBF SVC on the responses and on ``W`` (``train`` mode), the true labels in
every fold: the project's exact fit (``max_train_trials`` None) against the ensemble of exact
SVCs that ``decoding.baselines.<svc>.max_train_trials`` makes above its budget, for each budget
given. The decoders are the shipped ones (``nidecode.decoders.reference``), so the table
measures what the workflow runs. Prints one row per session, split and decoder (mean balanced
accuracy over folds, exact and each budget, the exact fit's fold spread, seconds a fit) and a
summary: the mean difference over sessions and the sessions whose difference leaves the exact
fit's fold spread.

    .venv/bin/python benchmarks/scale/svc_ensemble.py RESULTS --budgets 6000,4000 \
        [--sessions M0,S0] [--json docs/run/svc_ensemble.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow"))

from nidecode.common.io import open_netcdf  # noqa: E402
from nidecode.decoders.reference import svc, svc_fit, svc_w  # noqa: E402
from nidecode.jobs.inputs import decoder_inputs  # noqa: E402
from nidecode.jobs.runner import balanced  # noqa: E402
from nidecode.jobs.scope import Scope  # noqa: E402

DECODERS = {"svc": (svc, "responses"), "svc_w": (svc_w, "weights")}


ORDER = ("S0", "S1", "S2", "S3", "S4", "M0", "M1", "M2", "M3", "N0")
CELLS = (("block", "svc"), ("block", "svc_w"), ("trial", "svc"), ("trial", "svc_w"))


def _row(data: dict, session: str, split: str, decoder: str) -> dict:
    return next(r for r in data["rows"] if (r["session"], r["split"], r["decoder"])
                == (session, split, decoder))


def budget_table(data: dict) -> str:
    """docs/benchmarks.md's table: per budget, the mean difference over the sessions in each
    split and decoder, with how many sessions leave the exact fit's fold spread."""
    lines = ["| budget (members × trials a member) | block, SVC | block, SVC on W | trial, SVC | "
             "trial, SVC on W | s a fit (exact) |", "| --- | --- | --- | --- | --- | --- |"]
    for b in dict.fromkeys(s["budget"] for s in data["summary"]):
        cells, secs, sizes, exact = [], [], [], []
        for split, dec in CELLS:
            s = next(x for x in data["summary"] if (x["budget"], x["split"], x["decoder"])
                     == (b, split, dec))
            cells.append(f"{s['mean_difference']:+.3f} ({len(s['outside_spread'])} of "
                         f"{s['sessions']} outside)".replace("-", "−"))
            secs.append(s["s"])
            exact.append(s["exact_s"])
            for f in s["fits"]:
                k, lo, hi = _members(f)
                sizes += [lo, hi]
        lines.append(f"| {b:,} ({k} × {min(sizes):,}–{max(sizes):,}) | " + " | ".join(cells)
                     + f" | {min(secs):.2f}–{max(secs):.2f} ({min(exact):.2f}–{max(exact):.2f})"
                     " |")
    return "\n".join(lines)


def _members(fit: str) -> tuple[int, int, int]:
    """Members and their smallest and largest trials from a ``fit`` label."""
    words = fit.split()
    k, span = int(words[2]), words[6].split("-")
    return k, int(span[0]), int(span[-1])


def animal_table(data: dict, budget: int) -> str:
    """docs/benchmarks.md's per-animal table at one budget: exact → ensemble (difference;
    the exact fit's fold spread), * where the difference exceeds the spread."""
    lines = ["| animal | block, SVC | block, SVC on W | trial, SVC | trial, SVC on W |",
             "| --- | --- | --- | --- | --- |"]
    for session in [s for s in ORDER if any(r["session"] == s for r in data["rows"])]:
        cells = []
        for split, dec in CELLS:
            r = _row(data, session, split, dec)
            e = r["budgets"][str(budget)]
            flag = "" if abs(e["difference"]) <= r["exact_spread"] else " *"
            cells.append(f"{r['exact']:.3f} → {e['mean']:.3f} ({e['difference']:+.3f}; "
                         f"{r['exact_spread']:.3f}){flag}")
        lines.append(f"| {session}{' (null)' if session == 'N0' else ''} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, nargs="?", help="a finished run's results folder")
    ap.add_argument("--budgets", default="6000,4000", help="max_train_trials values")
    ap.add_argument("--sessions", default=None, help="default: every responses file")
    ap.add_argument("--splits", default="block,trial")
    ap.add_argument("--decoders", default="svc,svc_w")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--tables", type=Path, help="print the docs' tables from this JSON instead")
    args = ap.parse_args()
    if args.tables:
        data = json.loads(args.tables.read_text())
        print(budget_table(data) + "\n\n" + animal_table(data, data["summary"][0]["budget"]))
        return
    if args.results is None:
        ap.error("give a finished run's results folder (or --tables JSON)")
    budgets = [int(v) for v in args.budgets.split(",")]
    sessions = (args.sessions.split(",") if args.sessions else
                sorted(p.stem for p in (args.results / "responses").glob("*.nc")))
    stimuli = open_netcdf(args.results / "stimuli.nc")
    rows = []
    print("| session | split | decoder | train trials | exact | exact's fold spread | "
          + " | ".join(f"budget {b}: mean | − exact" for b in budgets) + " | s a fit: exact / "
          + " / ".join(str(b) for b in budgets) + " |")
    print("| --- " * (7 + 2 * len(budgets)) + "|")
    for session in sessions:
        ds = open_netcdf(args.results / "responses" / f"{session}.nc")
        for split in args.splits.split(","):
            scope = Scope(split=split)
            sel = scope.select(ds, stimuli)
            n_classes = len(sel.names)
            for name in args.decoders.split(","):
                fn, inputs = DECODERS[name]
                acc: dict[str, list[float]] = {"exact": [], **{str(b): [] for b in budgets}}
                sec: dict[str, list[float]] = {k: [] for k in acc}
                fits: dict[str, str] = {}
                n_train = []
                for fold in range(scope.n_folds):
                    train = scope.train_mask(sel, fold, sel.y, None)
                    x = decoder_inputs(inputs, ds, sel, train, "train", stimuli.sizes["stimulus"],
                                       scope.split).astype(np.float64)
                    n_train.append(int(train.sum()))
                    for key, budget in [("exact", None)] + [(str(b), b) for b in budgets]:
                        t0 = time.perf_counter()
                        pred = fn(x[train], sel.y[train], x[~train], max_train_trials=budget)
                        sec[key].append(time.perf_counter() - t0)
                        acc[key].append(balanced(sel.y[~train], pred, n_classes))
                        fits[key] = svc_fit(x[train], sel.y[train], x[~train],
                                            max_train_trials=budget)["fit"]
                exact = float(np.mean(acc["exact"]))
                row = {"session": session, "split": split, "decoder": name,
                       "n_train": n_train, "exact": exact, "exact_folds": acc["exact"],
                       "exact_spread": float(np.ptp(acc["exact"])),
                       "budgets": {k: {"mean": float(np.mean(v)), "folds": v,
                                       "difference": float(np.mean(v)) - exact, "fit": fits[k],
                                       "s": float(np.mean(sec[k]))}
                                   for k, v in acc.items() if k != "exact"},
                       "exact_s": float(np.mean(sec["exact"]))}
                rows.append(row)
                print(f"| {session} | {split} | {name} | {min(n_train)}-{max(n_train)} | "
                      f"{exact:.3f} | {row['exact_spread']:.3f} | " + " | ".join(
                          f"{v['mean']:.3f} | {v['difference']:+.3f}"
                          for v in row["budgets"].values()) + f" | {row['exact_s']:.2f} / "
                      + " / ".join(f"{v['s']:.2f}" for v in row["budgets"].values()) + " |",
                      flush=True)
    print("\n| budget | split | decoder | sessions | mean difference (ensemble − exact) | "
          "sessions outside the exact fit's fold spread | s a fit (exact) | fit |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    summary = []
    for b in budgets:
        for split in args.splits.split(","):
            for name in args.decoders.split(","):
                sub = [r for r in rows if r["split"] == split and r["decoder"] == name]
                diffs = [r["budgets"][str(b)]["difference"] for r in sub]
                outside = [r["session"] for r in sub
                           if abs(r["budgets"][str(b)]["difference"]) > r["exact_spread"]]
                s = {"budget": b, "split": split, "decoder": name, "sessions": len(sub),
                     "mean_difference": float(np.mean(diffs)), "outside_spread": outside,
                     "s": float(np.mean([r["budgets"][str(b)]["s"] for r in sub])),
                     "exact_s": float(np.mean([r["exact_s"] for r in sub])),
                     "fits": sorted({r["budgets"][str(b)]["fit"] for r in sub})}
                summary.append(s)
                print(f"| {b} | {split} | {name} | {len(sub)} | {s['mean_difference']:+.4f} | "
                      f"{len(outside)} {outside if outside else ''} | {s['s']:.2f} "
                      f"({s['exact_s']:.2f}) | {'; '.join(s['fits'])} |")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "rows": rows, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
