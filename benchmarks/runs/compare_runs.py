#!/usr/bin/env python3
"""Compare two runs' results row by row: are their accuracies and p-values identical?

    python benchmarks/runs/compare_runs.py RESULTS_A RESULTS_B

Rows of each summary.csv are matched by what identifies a job (task, model, analysis, control,
preferred-stimulus mode, split, session, combo, fold); prints the rows only one run has and,
per statistic, how many matched rows are identical (exactly, or both empty) and the first that
differ. Exit status 1 when any row or statistic differs: for refactors that must not change a
number (docs/development.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

KEYS = ["task", "model", "analysis", "control", "ps_mode", "split", "session", "combo", "fold"]
STATISTICS = ["accuracy", "balanced_accuracy", "p_binomial", "p_permutation", "p_time",
              "seed_accuracy_sd"]


def compare(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """The outer join of two summaries on :data:`KEYS` and, per statistic both have, the
    number of matched rows that differ."""
    a, b = (d.assign(**{k: d[k].astype(str) for k in KEYS}) for d in (a, b))
    m = a.merge(b, on=KEYS, how="outer", suffixes=("_a", "_b"), indicator=True)
    differ = {}
    for c in (c for c in STATISTICS if c in a and c in b):
        x, y = m[f"{c}_a"], m[f"{c}_b"]
        differ[c] = int((~((x == y) | (x.isna() & y.isna())) & (m._merge == "both")).sum())
    return m, differ


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    args = ap.parse_args()
    a, b = (pd.read_csv(p / "summary.csv") for p in (args.a, args.b))
    m, differ = compare(a, b)
    only = m[m._merge != "both"]
    print(f"rows: {len(a)} and {len(b)}; matched {int((m._merge == 'both').sum())}; "
          f"in one run only {len(only)}")
    if len(only):
        print(only[KEYS + ["_merge"]].head(20).to_string(index=False))
    for c, n in differ.items():
        print(f"{c}: {n} matched rows differ")
        if n:
            x, y = m[f"{c}_a"], m[f"{c}_b"]
            bad = ~((x == y) | (x.isna() & y.isna())) & (m._merge == "both")
            print(m.loc[bad, KEYS + [f"{c}_a", f"{c}_b"]].head(10).to_string(index=False))
    return int(len(only) > 0 or any(differ.values()))


if __name__ == "__main__":
    sys.exit(main())
