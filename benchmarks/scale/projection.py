#!/usr/bin/env python3
"""Projected wall time of the paper-scale all-combos run on 1, 8 and 32 GPUs, from measured parts.

The run: every combo of ``config/all_combos.yaml`` (each of the nine animals held out, trained
on every non-empty subset of the other eight: 2,295) in both preferred-stimulus modes, each
trained once per network seed, at paper scale (``--presentations`` per animal, Allen's ~50
repeats of 238 stimuli). Its parts, each measured and read from JSON:

* training throughput (images/s, steady state) per backbone and image size, and prediction
  throughput, on the accelerator (``benchmarks/gpu/gpu_check.sh`` -> ``--gpu``);
* a training process's start-up (imports, CUDA) and one animal's data: reading its responses
  and building its ``W`` at paper scale (same file);
* the scheduler's cost per job on a real SLURM cluster, and the per-job start-up there
  (``benchmarks/scale/cluster_batching.py`` -> ``--cluster``).

One job trains a batch of combos in one process (``decoding.dnn.cross_batch_size``): it pays
the scheduler, the start-up, the warm-up and each of its animals' data once. Jobs are spread
over the GPUs, one at a time per GPU: the wall time is the busiest GPU's jobs. Prints one row
per scenario; ``--json`` writes them.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ANIMALS = 9
# all_subsets: each animal held out, trained on every non-empty subset of the other eight.
COMBOS = ANIMALS * (2 ** (ANIMALS - 1) - 1)
# Mean number of training animals per combo: sum over subset sizes s of C(8, s) * s / 255.
MEAN_TRAIN_ANIMALS = sum(math.comb(ANIMALS - 1, s) * s for s in range(1, ANIMALS)) / (
    2 ** (ANIMALS - 1) - 1)


def job_seconds(n_combos: int, train_s: float, predict_s: float, startup_s: float,
                warmup_s: float, animal_s: float, sched_s: float, n_animals: int = ANIMALS,
                mean_train: float = MEAN_TRAIN_ANIMALS) -> float:
    """One job of ``n_combos`` combos: the scheduler, the process's start-up and the network's
    first-epoch warm-up (paid once per process: a second seed does not pay it), each animal's
    data once (at most all ``n_animals``), then every combo's training and prediction."""
    animals = min(n_animals, n_combos * (mean_train + 1))
    return sched_s + startup_s + warmup_s + animals * animal_s + n_combos * (train_s + predict_s)


def measured(gpu: dict, arch: str, size: int, batch_size: int) -> dict | None:
    """The measured case of a backbone, image size and training batch size, if any."""
    return next((c for c in gpu["cases"] if (c["arch"], c["image_size"], c["batch_size"])
                 == (arch, size, batch_size)), None)


def project(gpu: dict, sched_s: float, arch: str, size: int, batch_size: int, epochs: int,
            seeds: int, batch: int, presentations: int, modes: int, calibration: float,
            combos: int = COMBOS, n_animals: int = ANIMALS,
            mean_train: float = MEAN_TRAIN_ANIMALS) -> dict:
    """The all-combos run (or ``combos`` combos of ``mean_train`` training animals among
    ``n_animals``) with one network setting (``batch_size`` images per training step) and
    ``batch`` combos per job; hours on 1, 8 and 32 GPUs."""
    case = measured(gpu, arch, size, batch_size)
    rate = case["train_images_per_s"]
    n_train = mean_train * presentations
    # train mode evaluates the test animal's non-calibration trials, paper mode all of them
    n_test = presentations * ((1 - calibration) + 1) / 2
    train_s = seeds * epochs * n_train / rate
    # prediction: the measured time of 1,024 test images (set-up included), the rest at the
    # training rate (a forward pass costs less than a training step: an upper bound)
    predict_s = seeds * (case["predict_s_1024_images"] + max(0.0, n_test - 1024) / rate)
    jobs = math.ceil(combos / batch) * modes
    per_job = job_seconds(min(batch, combos), train_s, predict_s, gpu["startup_s"],
                          case["warmup_s"], gpu["animal_data_s"], sched_s, n_animals,
                          mean_train)
    total = jobs * per_job
    row = {"arch": arch, "image_size": size, "batch_size": batch_size, "epochs": epochs,
           "seeds": seeds, "combos_per_job": batch,
           "jobs": jobs, "trainings": combos * modes,
           "training_s_per_combo": round(train_s, 1),
           "other_s_per_combo": round(per_job / batch - train_s, 1),
           "gpu_hours": round(total / 3600, 1)}
    for g in (1, 8, 32):
        # whole jobs per GPU: the busiest GPU runs ceil(jobs / g) of them
        row[f"wall_h_{g}gpu"] = round(math.ceil(jobs / g) * per_job / 3600, 2)
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
    # The scheduler's cost of a job: the cluster's slots not spent in jobs, per job, measured
    # with one job per combo (the most jobs) on the test cluster.
    one = next(r for r in cluster_runs["runs"] if r["run"].startswith("one job per combo"))
    sched_s = max(0.0, one["scheduler_s_per_job"])
    scenarios = [  # arch, image size, training batch, epochs, seeds, combos per job
        # config/gpu.yaml at paper scale, one job per combo, then in batches of 25 combos
        ("efficientnet_lite0", 64, 64, 10, 2, 1),
        ("efficientnet_lite0", 64, 64, 10, 2, 25),
        # the paper's network and image size
        ("googlenet", 224, 256, 10, 2, 25),
        # larger training batches at 64² (the GPU's step time is nearly flat up to 2,048)
        ("efficientnet_lite0", 64, 256, 10, 2, 25),
        ("efficientnet_lite0", 64, 1024, 10, 2, 25),
        ("efficientnet_lite0", 64, 2048, 10, 2, 25),
        ("efficientnet_lite0", 64, 2048, 10, 1, 25),
        ("efficientnet_lite0", 64, 2048, 5, 1, 25),
    ]
    rows = [project(gpu, sched_s, *s, args.presentations, args.modes, args.calibration)
            for s in scenarios if measured(gpu, *s[:3])]
    cols = list(rows[0])
    print(" | ".join(cols))
    for r in rows:
        print(" | ".join(str(r[c]) for c in cols))
    goal = [r for r in rows if r["wall_h_8gpu"] <= 2.0]
    print(f"\ncombos {COMBOS} x {args.modes} modes; mean training animals "
          f"{MEAN_TRAIN_ANIMALS:.3f}; {args.presentations} presentations per animal")
    print("2 h on 8 GPUs reached by: " + ("; ".join(
        f"{r['arch']} {r['image_size']}², batch {r['batch_size']}, {r['epochs']} epochs, "
        f"{r['seeds']} seed(s), {r['combos_per_job']} combos per job ({r['wall_h_8gpu']} h)"
        for r in goal) or "none of these"))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
