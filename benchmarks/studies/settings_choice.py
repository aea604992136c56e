"""The network's default settings, chosen again on animals the main job never scores (first
chosen on fold 0 of M0, S0 and M1, which it does score: docs/network.md).

The candidates differ from the default (``decoding.dnn`` of the configs) in one setting each:
image channels, image size, epochs, and the linear head against fine-tuning every layer. Each
trains on the held-apart animals of ``config/held_apart.yaml`` (their own seeds; the main
job's animals never enter), in the configured split, ``train`` mode, and stands beside the RBF
SVC on the same ``W`` (benchmarks/studies/retention.py). The choice: among the candidates that fit
the CPU main job (a linear head on frozen features, at most ``--cost-limit`` times the
default's seconds per fit; fine-tuning and larger images are measured and reported, but cost
5-30 times as much), the one with the highest mean accuracy over animals and folds; the
default stays unless a candidate beats it by more than ``--margin`` (the choice is not worth
noise). ``--rows`` summarises an earlier run's JSON again, without training.

    .venv/bin/snakemake --configfile config/config.yaml config/held_apart.yaml --cores 2 \\
        --directory /tmp/held results/responses/H0.nc results/responses/H1.nc \\
        results/responses/H2.nc results/responses/H3.nc results/stimuli.nc
    .venv/bin/python benchmarks/studies/settings_choice.py --results /tmp/held/results \\
        --json docs/run/settings_choice.json

Prints one row per animal, fold and candidate, then the mean per candidate and the choice.
"""

import argparse
import json
import logging
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow"))
sys.path.insert(0, str(ROOT / "benchmarks" / "studies"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from retention import load, variant_rows  # noqa: E402

from nidecode.common.io import open_netcdf  # noqa: E402
from nidecode.jobs.scope import Scope  # noqa: E402

DEFAULT = "default"
# One setting changed at a time. Fine-tuning every layer runs on fold 0 with one seed: it
# costs 10-20 times the linear head on the CPU.
CANDIDATES: dict[str, dict] = {
    DEFAULT: {},
    "grey images": {"image_channels": "grey"},
    "128² images": {"image_size": 128},
    "5 epochs": {"epochs": 5},
    "20 epochs": {"epochs": 20},
    "fine-tune every layer": {"finetune": "all", "folds": [0], "seeds": [0]},
}


def choose(table: pd.DataFrame, margin: float, cost_limit: float
           ) -> tuple[str, pd.DataFrame]:
    """The chosen candidate and the per-candidate summary: mean accuracy over the animals and
    folds it ran on, its SD over animals, and the paired difference to the default on the same
    animals and folds. Eligible: linear-head candidates whose seconds per fit are at most
    ``cost_limit`` times the default's (the CPU main job has no room for more)."""
    rows = []
    base = table[table.variant == DEFAULT].set_index(["session", "fold"]).network
    for name, g in table.groupby("variant", sort=False):
        g = g.set_index(["session", "fold"])
        diff = (g.network - base.reindex(g.index))
        per_animal = g.network.groupby(level="session").mean()
        rows.append({"candidate": name, "finetune": g.finetune.iloc[0],
                     "folds": len(g.index.get_level_values("fold").unique()),
                     "seeds": int(g.seeds.iloc[0]),
                     "accuracy": g.network.mean(), "animal_sd": per_animal.std(ddof=1),
                     "minus_default": diff.mean(),
                     "animals_better": int((diff.groupby(level="session").mean() > 0).sum()),
                     "animals": len(per_animal), "gap_to_svc_w": g.gap.mean(),
                     "seconds_per_fit": g.seconds.mean() / g.seeds.mean()})
    summary = pd.DataFrame(rows)
    default_cost = float(summary.loc[summary.candidate == DEFAULT, "seconds_per_fit"].iloc[0])
    summary["eligible"] = ((summary.finetune == "head")
                           & (summary.seconds_per_fit <= cost_limit * default_cost))
    eligible = summary[summary.eligible]
    best = eligible.loc[eligible.accuracy.idxmax()]
    chosen = best.candidate if best.minus_default > margin else DEFAULT
    return chosen, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", help="results folder of the held-apart animals")
    ap.add_argument("--configfile", nargs="+",
                    default=[str(ROOT / "config" / "config.yaml"),
                             str(ROOT / "config" / "held_apart.yaml")])
    ap.add_argument("--sessions", default=None, help="default: the configs' sessions")
    ap.add_argument("--folds", default="0,1,2")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--margin", type=float, default=0.01,
                    help="a candidate replaces the default only when this much better")
    ap.add_argument("--cost-limit", type=float, default=2.0,
                    help="eligible: at most this many times the default's seconds per fit")
    ap.add_argument("--json", type=Path, default=None, help="write rows, summary and choice")
    ap.add_argument("--rows", type=Path, default=None,
                    help="summarise the rows of an earlier --json instead of training")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    from nidecode.decoders.network import DNNSettings

    config = load(args.configfile)
    sessions = args.sessions.split(",") if args.sessions else list(config["sessions"])
    scored = set(load([str(ROOT / "config" / "config.yaml")])["sessions"])
    if not args.sessions and scored & set(sessions):
        raise SystemExit(f"{sorted(scored & set(sessions))} are scored by the main job: "
                         "choose on held-apart animals (config/held_apart.yaml)")
    t0 = time.perf_counter()
    if args.rows:
        earlier = json.loads(args.rows.read_text())
        rows, split, seconds = earlier["rows"], earlier["split"], earlier["seconds"]
        command = earlier["command"]
    else:
        results = Path(args.results)
        stimuli = open_netcdf(results / "stimuli.nc")
        scope = Scope.from_config(config, stimuli)
        rows = variant_rows(results, stimuli, scope, DNNSettings.from_config(config),
                            config["decoding"]["baselines"].get("svc_w") or {}, sessions,
                            [int(f) for f in args.folds.split(",")],
                            [int(s) for s in args.seeds.split(",")], CANDIDATES)
        split, seconds = scope.split, round(time.perf_counter() - t0)
        command = " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    table = pd.DataFrame(rows)
    chosen, summary = choose(table, args.margin, args.cost_limit)
    print("\n" + summary.round(3).to_string(index=False))
    print(f"\nchosen: {chosen} (margin {args.margin}, cost limit {args.cost_limit}); "
          f"{seconds} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "sessions": sorted(set(table.session)), "folds": args.folds, "seeds": args.seeds,
            "split": split, "margin": args.margin, "cost_limit": args.cost_limit,
            "chosen": chosen, "command": command, "seconds": seconds,
            "summary": json.loads(summary.replace({np.nan: None}).to_json(orient="records")),
            "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
