#!/usr/bin/env python3
"""Many tiny cross-animal combos on a real SLURM cluster: one job per combo against batches.

Runs the workflow's `dnn_cross` jobs through the project's `slurm` profile for ``--combos``
tiny combos (one training animal, one test animal, among ``--animals`` simulated tiny animals;
GoogLeNet from scratch, 16 x 16 images, one epoch, one seed) twice in one working folder:
one job per combo (``decoding.dnn.cross_batch_size: 1``) and in batches of ``--batch``.
The animals' responses are made once, before any run is timed. Then, in batches, it blocks
one combo's checkpoint folder, runs, unblocks and reruns, and reports which combos trained
again.

Per run it prints: sbatch submissions (single jobs and job arrays), wall time, training jobs,
and each job's start-up: its benchmark seconds minus the training seconds (``fit_seconds``) of
its combos, i.e. the process start, imports, reading the responses, building ``W`` and
predicting. Needs a SLURM cluster: ``--start-cluster`` starts the tests' one-node cluster
(tests/slurm/cluster.sh; root), else one must be running with partition ``--partition``.

    python benchmarks/scale/cluster_batching.py --workdir /tmp/cb --combos 200 --batch 25 \\
        --start-cluster --json docs/run/cluster_batching.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "tests" / "slurm" / "cluster.sh"
SINGLE = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+)")
ARRAY = re.compile(r"Submitted array job with Snakemake IDs ([\d,]+) and SLURM job ID (\d+)")


def layer(animals: int, combos: int, batch: int) -> dict:
    """The benchmark's config layer on config.yaml + ci.yaml: tiny animals, tiny combos."""
    names = [f"A{i:02d}" for i in range(animals)]
    pairs = [f"{a}__{b}" for a in names for b in names if a != b][:combos]
    if len(pairs) < combos:
        raise SystemExit(f"{animals} animals make only {len(pairs)} one-to-one combos")
    return {
        "sessions": names,
        "simulation": {"animals": {n: {"seed": 300 + i, "n_units": {"VISp": 30},
                                       "gain_noise": 0.3, "drive": 1.0}
                                   for i, n in enumerate(names)}},
        "decoding": {
            "ps_modes": ["train"], "combos": pairs, "combo_generators": [],
            "dnn": {"arch": "googlenet", "pretrained": False, "image_size": 16, "epochs": 1,
                    "batch_size": 64, "seeds": [0], "threads": 1, "cross_batch_size": batch,
                    "mem_mb": 1500, "runtime_min": 10},
            "transfer": {"variants": {}, "sessions": [names[0]]},
            "raster": {"sessions": [names[0]]},
        },
        "figures": {"session": names[0]},
        "controls": {"sessions": [], "null_sessions": [], "glm_permutations": 0},
        "analyses": {"labels": [], "area_sets": [], "arousal": False, "unit_counts": []},
    }


def snakemake(workdir: Path, layer_file: Path, targets: list[str], partition: str,
              arrays: bool = True) -> tuple[float, str, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env["USER"] = env.get("USER") or "root"
    env["NIDECODE_QUIET"] = "1"
    cmd = [sys.executable, "-m", "snakemake", *targets, "--profile", "slurm",
           "--directory", str(workdir), "--configfile", str(ROOT / "config" / "config.yaml"),
           str(ROOT / "config" / "ci.yaml"), str(layer_file),
           "--default-resources", f"slurm_partition={partition}", "mem_mb=1000", "runtime=10",
           "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2",
           "--retries", "0"] + ([] if arrays else ["--slurm-array-jobs", "none"])
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    return time.perf_counter() - t0, res.stdout, res.returncode


def cross_outputs(config: dict) -> list[str]:
    sys.path.insert(0, str(ROOT / "workflow"))
    from nidecode.config import cross_batches

    return [f"results/decode/block/dnn_train/cross/{b}/metrics.json"
            for b in cross_batches(config)]


def merged(*parts: dict) -> dict:
    def update(a: dict, b: dict) -> dict:
        for k, v in b.items():
            a[k] = update(dict(a.get(k) or {}), v) if isinstance(v, dict) else v
        return a
    out: dict = {}
    for p in parts:
        update(out, p)
    return out


def measure(workdir: Path, config: dict, layer_file: Path, partition: str, label: str,
            arrays: bool, slots: int) -> dict:
    """Run every dnn_cross job of ``config``; the table row of this run."""
    targets = cross_outputs(config)
    wall, out, rc = snakemake(workdir, layer_file, targets, partition, arrays)
    if rc != 0:
        raise SystemExit(f"{label}: snakemake failed\n{out[-4000:]}")
    singles = SINGLE.findall(out)
    arrays = ARRAY.findall(out)
    jobs = []
    for t in targets:
        path = workdir / t
        rows = json.loads(path.read_text())
        rows = rows if isinstance(rows, list) else [rows]
        bench = pd.read_csv(workdir / "results" / "benchmarks" / "dnn_cross" / Path(
            t).relative_to("results/decode").parent.with_suffix(".tsv"), sep="\t")
        fit = sum(r["fit_seconds"] for r in rows)
        jobs.append({"combos": len(rows), "job_s": float(bench.s.iloc[0]), "fit_s": fit})
    j = pd.DataFrame(jobs)
    start = j.job_s - j.fit_s
    return {"run": label, "combos": int(j.combos.sum()), "training_jobs": len(j),
            "sbatch_submissions": len(singles) + len(arrays),
            "array_submissions": len(arrays), "wall_s": round(wall, 1),
            "job_seconds_sum": round(float(j.job_s.sum()), 1),
            "fit_seconds_sum": round(float(j.fit_s.sum()), 1),
            "startup_s_per_job_median": round(float(start.median()), 2),
            "startup_s_per_combo": round(float(start.sum() / j.combos.sum()), 2),
            # what the cluster adds to each job beyond its own run (sbatch, queue, polling,
            # the job step's Snakemake): the slots' time not spent in jobs, per job
            "scheduler_s_per_job": round((wall * slots - float(j.job_s.sum())) / len(j), 2)}


def clean_cross(workdir: Path) -> None:
    for d in (workdir / "results" / "decode" / "block").glob("dnn_*/cross"):
        shutil.rmtree(d)
    shutil.rmtree(workdir / "results" / "benchmarks" / "dnn_cross", ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--animals", type=int, default=15)
    ap.add_argument("--combos", type=int, default=200)
    ap.add_argument("--batch", type=int, default=25)
    ap.add_argument("--partition", default="debug")
    ap.add_argument("--start-cluster", action="store_true")
    ap.add_argument("--slots", type=int, default=os.cpu_count() or 1,
                    help="jobs the cluster runs at once (one CPU each)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    state = args.workdir / "slurm-state"
    if args.start_cluster:
        for step in (["install"], ["start", str(state)]):
            subprocess.run(["bash", str(CLUSTER), *step], check=True)
    try:
        args.workdir.mkdir(parents=True, exist_ok=True)
        base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
        ci = yaml.safe_load((ROOT / "config" / "ci.yaml").read_text())
        rows = []
        # Job arrays stay off (plugin 2.8.0: tasks but the first fail, docs/cluster.md).
        runs = [("one job per combo", 1, False), (f"batches of {args.batch}", args.batch, False)]
        for label, size, arrays in runs:
            spec = layer(args.animals, args.combos, size)
            layer_file = args.workdir / f"layer_{size}.yaml"
            layer_file.write_text(yaml.safe_dump(spec))
            if not rows:  # the animals' responses, once, untimed
                prep = [f"results/responses/{s}.nc" for s in spec["sessions"]]
                _, out, rc = snakemake(args.workdir, layer_file,
                                       prep + ["results/stimuli.nc"], args.partition)
                if rc != 0:
                    raise SystemExit(f"preparing the responses failed\n{out[-4000:]}")
            clean_cross(args.workdir)
            rows.append(measure(args.workdir, merged(base, ci, spec), layer_file,
                                args.partition, label, arrays, args.slots))
            print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
        # A combo failed inside a batch: only it trains again on the rerun.
        config = merged(base, ci, spec)
        from nidecode.config import cross_batches

        batch, combos = next(iter(cross_batches(config).items()))
        failing = combos[1]
        blocker = args.workdir / "results" / "decode" / "block" / "dnn_train" / "cross" / failing
        shutil.rmtree(blocker, ignore_errors=True)
        blocker.mkdir(parents=True)
        (blocker / "checkpoints").write_text("blocks this combo's checkpoints\n")
        target = f"results/decode/block/dnn_train/cross/{batch}/metrics.json"
        _, out, rc = snakemake(args.workdir, layer_file, [target, "-f"], args.partition)
        assert rc != 0, "the blocked combo should have failed its batch"
        (blocker / "checkpoints").unlink()
        _, out, rc = snakemake(args.workdir, layer_file, [target], args.partition)
        assert rc == 0, out[-3000:]
        trained = json.loads((args.workdir / target).read_text())
        retrained = [r["combo"] for r in trained if not r["resumed_from_checkpoint"]]
        rerun = {"batch": batch, "combos_in_batch": len(combos), "failed": failing,
                 "trained_again_on_rerun": retrained}
        print(json.dumps(rerun))
        table = pd.DataFrame(rows)
        print("\n" + table.to_string(index=False))
        if args.json:
            args.json.write_text(json.dumps({"runs": rows, "rerun": rerun, "args": {
                k: str(v) for k, v in vars(args).items()}}, indent=1) + "\n")
    finally:
        if args.start_cluster:
            subprocess.run(["bash", str(CLUSTER), "stop", str(state)])


if __name__ == "__main__":
    main()
