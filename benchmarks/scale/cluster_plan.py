#!/usr/bin/env python3
"""A plan for real use on a cluster, from measured parts: CPU and GPU hours per rule, peak
memory per job, jobs and submissions, and the wall time on 8 and 32 nodes, for
``config/all_combos.yaml`` at Allen's size and for leave-one-animal-out over 32 real-size
sessions.

Its parts, each read from a JSON the docs quote:

* every per-session rule's job-seconds and peak memory at Allen's 50 repeats (the real-size
  main job, ``benchmarks/scale/scale.py`` -> ``docs/run/scale_main.json``); the network's
  block-relabelling null, added after that run, from the default run's 10 repeats
  (``docs/run/benchmarks.csv``) times the network's own growth to 50 (``dnn_within``'s);
* ``baselines_cross``: the SVC on W's seconds and peak memory at 2, 4 and 8 real-size training
  animals (``benchmarks/scale/cross_size.py`` -> ``docs/run/cross_size.json``), a straight
  line through them in the training trials, plus one job's start-up on the test cluster;
* ``dnn_cross`` on CPUs with the default network (the real-size run's two-animal jobs, linear
  in the training trials), or on a GPU: ``benchmarks/scale/projection.py``'s model (measured
  training rate, start-up, warm-up, data, scheduler), ``config/gpu.yaml``'s network, 25 combos
  per job; one preferred-stimulus mode (``train``, the default);
* the scheduler's seconds per job and a job's start-up (``docs/run/cluster_batching.json``).

A node is one GPU and ``--cores`` CPU cores. The wall time is a lower bound: the busiest GPU's
whole ``dnn_cross`` jobs, or the CPU work spread over every core, whichever is longer, plus
the longest per-session chain (``responses`` then ``baselines_within``); on CPUs alone, no less
than the longest job. Queueing and the dependencies between rules are left out. Prints one
table per design; ``--json`` writes them.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from projection import COMBOS, MEAN_TRAIN_ANIMALS, project  # noqa: E402

RUN = ROOT / "docs" / "run"
PRESENTATIONS = 50 * 238
# Rules with one job per session and split (or per session), measured on the ten animals.
PER_SESSION = ("simulate_session", "responses", "baselines_within", "glm_within",
               "glm_analyses", "blank_control", "drift_control", "dnn_within")
# A real session's responses at Allen's size: docs/benchmarks.md ("Real-size sessions").
REAL_RESPONSES_S, REAL_RESPONSES_MB = 6.7, 979


def line(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares intercept and slope."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs)
    return my - b * mx, b


def plan(name: str, sessions: int, simulated: bool, combos: int, n_animals: int,
         mean_train: float, batch: int, nodes: tuple[int, ...], cores: int, parts: dict
         ) -> dict:
    rules = []
    for rule in PER_SESSION:
        if rule == "simulate_session" and not simulated:
            continue
        r = parts["scale"][rule]
        per_job, jobs = r["s@50"] / r["jobs@50"], r["jobs@50"] / 10 * sessions
        peak = r["max_rss_mb@50"]
        source = "measured at 50 repeats"
        if rule == "responses" and not simulated:
            per_job, peak, source = REAL_RESPONSES_S, REAL_RESPONSES_MB, "a real-size session"
        rules.append({"rule": rule, "jobs": jobs, "cpu_h": jobs * per_job / 3600,
                      "gpu_h": 0.0, "peak_mb": peak, "source": source})
    if "dnn_relabelling_null" in parts["scale"]:  # measured at 50 repeats
        r = parts["scale"]["dnn_relabelling_null"]
        rules.append({"rule": "dnn_relabelling_null", "jobs": r["jobs@50"] / 10 * sessions,
                      "cpu_h": r["s@50"] / 10 * sessions / 3600, "gpu_h": 0.0,
                      "peak_mb": r["max_rss_mb@50"], "source": "measured at 50 repeats"})
    else:  # a run from before the rule: the default run's 10 repeats × the network's growth
        null = parts["null_s@10"] * parts["scale"]["dnn_within"]["growth"]
        rules.append({"rule": "dnn_relabelling_null", "jobs": sessions,
                      "cpu_h": sessions * null / 3600, "gpu_h": 0.0,
                      "peak_mb": parts["null_peak@10"],
                      "source": "10 repeats × dnn_within's growth"})
    a, b = parts["cross_s"]
    pa, pb = parts["cross_mb"]
    n_train = mean_train * PRESENTATIONS
    startup = parts["startup_s"]
    rules.append({"rule": "baselines_cross", "jobs": combos,
                  "cpu_h": combos * (startup + a + b * n_train) / 3600, "gpu_h": 0.0,
                  "peak_mb": pa + pb * n_train,
                  "source": "line through 2, 4, 8 animals" + (
                      " (extrapolated)" if mean_train > 8 else "")})
    # The network across animals, one mode (train, the default): on CPUs as the main job runs
    # it (frozen features and a linear head; the real-size run's two-animal jobs, linear in
    # the training trials), or on GPUs with config/gpu.yaml's fine-tuned network.
    d = parts["scale"]["dnn_cross"]
    cpu_cross_s = d["s@50"] / d["jobs@50"] * mean_train / 2
    gpu = project(parts["gpu"], parts["sched_s"], "efficientnet_lite0", 64, 64, 10, 2, batch,
                  PRESENTATIONS, 1, 2 / 3, combos, n_animals, mean_train)
    cross_cpu = {"rule": "dnn_cross (CPU, the default network)",
                 "jobs": math.ceil(combos / batch),
                 "cpu_h": combos * cpu_cross_s / 3600, "gpu_h": 0.0,
                 "peak_mb": d["max_rss_mb@50"], "source": "two-animal jobs at 50 repeats, "
                 f"linear in the training trials (extrapolated; peak at two animals); {batch} "
                 "combo(s) per job"}
    cross_gpu = {"rule": "dnn_cross (GPU, config/gpu.yaml)", "jobs": gpu["jobs"], "cpu_h": 0.0,
                 "gpu_h": gpu["gpu_hours"], "peak_mb": d["max_rss_mb@50"],
                 "source": f"projection.py's model, {batch} combo(s) per job"}
    chain_h = (parts["scale"]["responses"]["s@50"] / 10
               + parts["scale"]["baselines_within"]["s@50"] / 20) / 3600
    out = {"design": name, "sessions": sessions, "combos": combos, "cores_per_node": cores,
           "variants": {}}
    for variant, cross_rule in (("cpu", cross_cpu), ("gpu", cross_gpu)):
        rs = rules + [cross_rule]
        cpu_h = sum(r["cpu_h"] for r in rs)
        jobs = sum(r["jobs"] for r in rs)
        if variant == "gpu":
            per_gpu_job_h = gpu["gpu_hours"] / gpu["jobs"]
            wall = {n: max(math.ceil(gpu["jobs"] / n) * per_gpu_job_h, cpu_h / (cores * n))
                    + chain_h for n in nodes}
        else:  # the work over every core, but no less than the longest job
            longest = max(r["cpu_h"] / r["jobs"] for r in rs)
            wall = {n: max(cpu_h / (cores * n), longest) + chain_h for n in nodes}
        out["variants"][variant] = {"rules": rs, "jobs": jobs, "submissions": jobs,
                                    "cpu_h": cpu_h, "gpu_h": cross_rule["gpu_h"],
                                    "wall_h": wall}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=16, help="CPU cores per node (one GPU each)")
    ap.add_argument("--scale", type=Path, default=RUN / "scale_main_rs.json",
                    help="benchmarks/scale/scale.py's JSON of the real-size main job")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    scale = {r["rule"]: r for r in json.loads(args.scale.read_text())["rules"]}
    with open(RUN / "benchmarks.csv") as f:
        null = [r for r in csv.DictReader(f) if r["rule"] == "dnn_relabelling_null"]
    cross = [r for r in json.loads((RUN / "cross_size.json").read_text())["rows"]
             if r["budget"] is not None]
    runs = json.loads((RUN / "cluster_batching.json").read_text())["runs"]
    one = next(r for r in runs if r["run"].startswith("one job per combo"))
    parts = {"scale": scale,
             "null_s@10": sum(float(r["s"]) for r in null) / len(null),
             "null_peak@10": max(float(r["max_rss_mb"]) for r in null),
             "cross_s": line([r["n_train"] for r in cross], [r["s"] for r in cross]),
             "cross_mb": line([r["n_train"] for r in cross], [r["peak_mb"] for r in cross]),
             "startup_s": one["startup_s_per_job_median"], "sched_s": one["scheduler_s_per_job"],
             "gpu": json.loads((RUN / "gpu_measurements.json").read_text())}
    designs = [
        plan("config/all_combos.yaml at Allen's size (9 animals and N0)", 10, True,
             COMBOS + 1, 9, MEAN_TRAIN_ANIMALS, 25, (8, 32), args.cores, parts),
        plan("leave one animal out over 32 real-size sessions", 32, False, 32, 32, 31,
             1, (8, 32), args.cores, parts),
    ]
    for d in designs:
        print(f"\n{d['design']}: {d['sessions']} sessions, {d['combos']} combos")
        print("| rule | jobs (= submissions) | CPU hours | GPU hours | peak MB per job | from |")
        print("| --- | --- | --- | --- | --- | --- |")
        cpu, gpu = d["variants"]["cpu"], d["variants"]["gpu"]
        for r in cpu["rules"] + gpu["rules"][-1:]:
            print(f"| `{r['rule']}` | {r['jobs']:,.0f} | {r['cpu_h']:.2f} | {r['gpu_h']:.1f} | "
                  f"{r['peak_mb']:,.0f} | {r['source']} |")
        for label, v in (("networks on CPUs", cpu), ("dnn_cross on GPUs", gpu)):
            print(f"| all, {label} | {v['jobs']:,.0f} | {v['cpu_h']:.1f} | {v['gpu_h']:.1f} | | "
                  "wall (lower bound), nodes of 1 GPU and "
                  f"{d['cores_per_node']} cores: " + ", ".join(
                      f"{n} nodes {h:.1f} h" for n, h in v["wall_h"].items()) + " |")
    if args.json:
        args.json.write_text(json.dumps(designs, indent=1) + "\n")


if __name__ == "__main__":
    main()
