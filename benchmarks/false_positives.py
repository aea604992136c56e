"""How often each split and null calls a stimulus-blind, slowly drifting session significant.

Simulates stimulus-blind sessions with the simulator's default slow drift (and a few M0-like
sessions with stimulus information, for power), runs each through the NWB file, the reader and
the GLM in both splits, and prints the rejection rates. tests/test_validation.py runs the same
study and checks its limits.

    .venv/bin/python benchmarks/false_positives.py [--null 20] [--informative 3]
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

from nidecode.validation import false_positive_study, group_test, rejection_table  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--null", type=int, default=20, help="stimulus-blind sessions")
    ap.add_argument("--informative", type=int, default=3, help="sessions with information")
    ap.add_argument("--seed", type=int, default=5000, help="first session seed")
    args = ap.parse_args()
    t0 = time.perf_counter()
    results = false_positive_study(args.null, args.informative, n_permutations=50,
                                   base_seed=args.seed)
    table = rejection_table(results, alpha=0.05)
    table["rejected_at_0.1"] = rejection_table(results, alpha=0.1)["rejected_at_0.1"]
    print(table.to_string(index=False))
    for blind, name in ((True, "stimulus-blind"), (False, "stimulus information")):
        sub = results[results.stimulus_blind == blind]
        if len(sub):
            print(f"block-relabelling test of the mean over the {len(sub) // 2} {name} "
                  f"sessions: block split p = {group_test(sub, 'block'):.2g}, trial split "
                  f"p = {group_test(sub, 'trial'):.2g}")
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
