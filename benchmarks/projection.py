#!/usr/bin/env python3
"""Projected wall time of the paper-scale all-combos run on 1, 8 and 32 GPUs, from measured parts.

The run: every combo of ``config/all_combos.yaml`` (each of the nine animals held out, trained
on every non-empty subset of the other eight: 2,295) in both preferred-stimulus modes, each
trained once per network seed, at paper scale (``--presentations`` per animal, Allen's ~50
repeats of 238 stimuli). Its parts, each measured and read from JSON:

* training throughput (images/s, steady state) per backbone and image size, and prediction
  throughput, on the accelerator (``benchmarks/gpu_check.sh`` -> ``--gpu``);
* a training process's start-up (imports, CUDA) and one animal's data: reading its responses
  and building its ``W`` at paper scale (same file);
* the scheduler's cost per job on a real SLURM cluster, and the per-job start-up there
  (``benchmarks/cluster_batching.py`` -> ``--cluster``).

One job trains ``--batch`` combos in one process (``decoding.dnn.cross_batch_size``): it pays the
start-up, the scheduler and each of its animals' data once. Jobs are spread evenly over the
GPUs (one job per GPU at a time); the wall time is the total job time divided by the GPUs,
plus one job's time for the last wave. Prints one row per scenario; ``--json`` writes them.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ANIMALS = 9
# all_subsets: each animal held out, trained on every non-empty subset of the other eight.
COMBOS = ANIMALS * (2 ** (ANIMALS - 1) - 1)
# Mean number of training animals per combo: sum over subset sizes s of C(8, s) * s / 255.
MEAN_TRAIN_ANIMALS = sum(math.comb(ANIMALS - 1, s) * s for s in range(1, ANIMALS)) / (
    2 ** (ANIMALS - 1) - 1)


def job_seconds(n_combos: int, train_s: float, predict_s: float, startup_s: float,
                animal_s: float, sched_s: float) -> float:
    """One job of ``n_combos`` combos: start-up, scheduler, each animal's data once (at most
    all nine), then every combo's training and prediction."""
    animals = min(ANIMALS, n_combos * (MEAN_TRAIN_ANIMALS + 1))
    return sched_s + startup_s + animals * animal_s + n_combos * (train_s + predict_s)


def project(gpu: dict, cluster: dict, arch: str, size: int, epochs: int, seeds: int,
            batch: int, presentations: int, modes: int, calibration: float) -> dict:
    rate = gpu["train_images_per_s"][arch][str(size)]
    predict_rate = gpu.get("predict_images_per_s", {}).get(arch, {}).get(str(size), 3 * rate)
    n_train = MEAN_TRAIN_ANIMALS * presentations
    # train mode evaluates the test animal's non-calibration trials; paper mode all of them
    n_test = presentations * ((1 - calibration) + 1) / 2
    train_s = seeds * epochs * n_train / rate
    predict_s = seeds * n_test / predict_rate
    trainings = COMBOS * modes
    jobs = math.ceil(COMBOS / batch) * modes
    per_job = job_seconds(batch, train_s, predict_s, gpu["startup_s"],
                          gpu["animal_data_s"], cluster["scheduler_s_per_job"])
    total = jobs * per_job
    row = {"arch": arch, "image_size": size, "epochs": epochs, "seeds": seeds, "batch": batch,
           "jobs": jobs, "trainings": trainings,
           "training_s_per_combo": round(train_s, 1),
           "overhead_s_per_combo": round(per_job / batch - train_s - predict_s, 2),
           "gpu_hours": round(total / 3600, 1)}
    for g in (1, 8, 32):
        row[f"wall_h_{g}gpu"] = round((total / g + (per_job if jobs > g else 0)) / 3600, 2)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpu", type=Path, default=ROOT / "docs" / "run" / "gpu_measurements.json")
    ap.add_argument("--cluster", type=Path,
                    default=ROOT / "docs" / "run" / "cluster_batching.json")
    ap.add_argument("--presentations", type=int, default=50 * 238)
    ap.add_argument("--calibration", type=float, default=2 / 3)
    ap.add_argument("--modes", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    gpu = json.loads(args.gpu.read_text())
    cluster_runs = json.loads(args.cluster.read_text())
    # The scheduler's cost of a job: its wall share beyond the job's own seconds, measured with
    # one job per combo (the most jobs) on the test cluster.
    one = next(r for r in cluster_runs["runs"] if r["run"].startswith("one job per combo"))
    cluster = {"scheduler_s_per_job": max(0.0, one["scheduler_s_per_job"])}
    scenarios = [
        # the GPU configuration as it is (config/gpu.yaml at paper scale), one job per combo
        ("efficientnet_lite0", 64, 10, 2, 1),
        ("efficientnet_lite0", 64, 10, 2, 25),
        # the paper's network and image size
        ("googlenet", 224, 10, 2, 25),
        # what would reach the goal: fewer seeds and epochs, small images, batches
        ("efficientnet_lite0", 64, 5, 1, 25),
        ("googlenet", 64, 5, 1, 25),
    ]
    rows = [project(gpu, cluster, *s, args.presentations, args.modes, args.calibration)
            for s in scenarios if str(s[1]) in gpu["train_images_per_s"].get(s[0], {})]
    cols = list(rows[0])
    print(" | ".join(cols))
    for r in rows:
        print(" | ".join(str(r[c]) for c in cols))
    goal = [r for r in rows if r["wall_h_8gpu"] <= 2.0]
    print(f"\ncombos {COMBOS} x {args.modes} modes; mean training animals "
          f"{MEAN_TRAIN_ANIMALS:.3f}; {args.presentations} presentations per animal")
    print("2 h on 8 GPUs reached by: " + ("; ".join(
        f"{r['arch']} {r['image_size']}² {r['epochs']} epochs {r['seeds']} seed(s) batch "
        f"{r['batch']} ({r['wall_h_8gpu']} h)" for r in goal) or "none of these"))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
