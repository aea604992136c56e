"""Tables of one `snakemake` run of the workflow, with the GPU's utilisation sampled beside it.

    python benchmarks/gpu/gpu_suite_report.py --dir SUITE_DIR --out OUT [--smi SMI.csv]
           [--wall-start EPOCH --wall-end EPOCH]

Reads, in SUITE_DIR (the run's working directory):
  * .snakemake/log/*.snakemake.log: each job's start and finish time (1 s resolution);
  * results/benchmarks/<rule>/**.tsv: each job's wall seconds as Snakemake's `benchmark:` measured;
  * results/decode/**/metrics.json of the training rules: fit_seconds (Lightning's fit, summed
    over the job's seeds) and wall_time_s (the job function's own time, W and prediction too);
  * the training jobs' logs (results/logs/<rule>/...): per-epoch lines, whose images/s give
    each epoch's seconds (n_train / rate): the pure training time.
``--smi``: nvidia-smi samples ``timestamp, utilization.gpu, memory.used`` (csv, no header, no
units). Writes OUT/suite_per_rule.csv and OUT/suite_summary.json and prints both.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

TRAINING_RULES = ("dnn_within", "dnn_cross", "dnn_control", "dnn_analysis", "raster_within",
                  "dnn_transfer")


def job_intervals(suite: Path) -> list[dict]:
    """(rule, jobid, start, end) of every job in the run's Snakemake logs."""
    jobs: dict[tuple[str, int], dict] = {}
    for log in sorted((suite / ".snakemake" / "log").glob("*.snakemake.log")):
        stamp = None
        current = None
        for line in log.read_text(errors="replace").splitlines():
            m = re.match(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$", line)
            if m:
                stamp = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y").timestamp()
                continue
            m = re.match(r"^(?:local)?rule (\w+):$", line)
            if m:
                current = {"rule": m.group(1), "start": stamp}
                continue
            m = re.match(r"^\s+jobid: (\d+)$", line)
            if m and current is not None:
                jobs[(log.name, int(m.group(1)))] = current
                current = None
                continue
            m = re.match(r"^Finished jobid: (\d+) \(Rule: (\w+)\)", line)
            if m and (log.name, int(m.group(1))) in jobs:
                jobs[(log.name, int(m.group(1)))]["end"] = stamp
            m = re.match(r"^Error in rule (\w+):", line)
            if m:
                pass
    return [dict(j, jobid=k[1]) for k, j in jobs.items()]


def benchmark_seconds(suite: Path) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for tsv in (suite / "results" / "benchmarks").rglob("*.tsv"):
        rule = tsv.relative_to(suite / "results" / "benchmarks").parts[0]
        with tsv.open() as f:
            for row in csv.DictReader(f, delimiter="\t"):
                out[rule].append(float(row["s"]))
    return out


def training_records(suite: Path) -> list[dict]:
    recs = []
    for mj in (suite / "results" / "decode").rglob("metrics.json"):
        try:
            m = json.loads(mj.read_text())
        except (OSError, ValueError):
            continue
        if "fit_seconds" not in m:
            continue
        recs.append({"path": str(mj.relative_to(suite)), "fit_seconds": m.get("fit_seconds"),
                     "wall_time_s": m.get("wall_time_s"), "n_train": m.get("n_train"),
                     "arch": m.get("arch"), "image_size": m.get("image_size"),
                     "epochs": m.get("epochs"), "n_seeds": m.get("n_seeds"),
                     "pretrained": m.get("pretrained"), "device": m.get("device")})
    return recs


LOG_TO_METRICS = {  # results/logs/<rule>/... -> results/decode/..., as workflow/rules/dnn.smk
    "dnn_within": (r"(\w+)/(\w+)/([^/]+)/fold(\d+)", r"\1/dnn_\2/within/\3/fold\4"),
    "dnn_cross": (r"(\w+)/(\w+)/([^/]+)", r"\1/dnn_\2/cross/\3"),
    "raster_within": (r"(\w+)/([^/]+)/fold(\d+)", r"\1/raster/within/\2/fold\3"),
    "dnn_control": (r"(\w+)/(\w+)/([^/]+)/([^/]+)/fold(\d+)",
                    r"\1/dnn_\2/control/\3/\4/fold\5"),
    "dnn_analysis": (r"(\w+)/([^/]+)/([^/]+)/fold(\d+)", r"\1/dnn_train/analysis/\2/\3/fold\4"),
    "dnn_transfer": (r"(\w+)/([^/]+)/(\w+)/([^/]+)/fold(\d+)",
                     r"\1/transfer/\2/\3/\4/fold\5"),
}


def epoch_seconds(suite: Path) -> dict:
    """Pure training time from the training jobs' logs: each epoch line's images/s with the
    job's n_train (its metrics.json) gives that epoch's seconds (device not synchronised)."""
    total, lines, unmatched, rates = 0.0, 0, [], []
    logs = suite / "results" / "logs"
    for rule, (pat, rep) in LOG_TO_METRICS.items():
        for log in (logs / rule).rglob("*.log") if (logs / rule).exists() else []:
            tail = log.relative_to(logs / rule).with_suffix("").as_posix()
            mj = suite / "results" / "decode" / (re.sub(f"^{pat}$", rep, tail) + "/metrics.json")
            if not mj.exists():
                unmatched.append(str(log.relative_to(suite)))
                continue
            n = json.loads(mj.read_text()).get("n_train")
            for line in log.read_text(errors="replace").splitlines():
                m = re.search(r"epoch (\d+)/(\d+): loss \S+, (\d+) images/s", line)
                if m and n and float(m.group(3)) > 0:
                    rates.append(float(m.group(3)))
                    total += n / float(m.group(3))
                    lines += 1
    return {"epoch_lines": lines, "epoch_seconds_sum": round(total, 2),
            "mean_epoch_images_per_s": round(sum(rates) / len(rates), 1) if rates else None,
            "logs_without_metrics": unmatched}


def smi_samples(path: Path) -> list[tuple[float, float, float]]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3:
            continue
        try:
            t = datetime.strptime(parts[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()
            out.append((t, float(parts[1]), float(parts[2])))
        except ValueError:
            continue
    return out


def _busy(samples, windows=None) -> dict:
    sel = [s for s in samples if windows is None or any(a <= s[0] <= b for a, b in windows)]
    if not sel:
        return {"samples": 0}
    return {"samples": len(sel),
            "busy_fraction_util_gt_0": round(sum(s[1] > 0 for s in sel) / len(sel), 3),
            "mean_utilization_pct": round(sum(s[1] for s in sel) / len(sel), 1),
            "max_memory_used_mib": max(s[2] for s in sel)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--smi", default=None)
    p.add_argument("--wall-start", type=float, default=None)
    p.add_argument("--wall-end", type=float, default=None)
    p.add_argument("--rc", default=None, help="snakemake's exit status, recorded")
    args = p.parse_args()
    suite, out = Path(args.dir), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = job_intervals(suite)
    bench = benchmark_seconds(suite)
    recs = training_records(suite)
    rules = sorted({j["rule"] for j in jobs} | set(bench))
    rows = []
    for rule in rules:
        js = [j for j in jobs if j["rule"] == rule]
        done = [j for j in js if j.get("end") is not None and j.get("start") is not None]
        log_s = [j["end"] - j["start"] for j in done]
        b = bench.get(rule, [])
        rows.append({"rule": rule, "started": len(js), "finished": len(done),
                     "benchmark_files": len(b),
                     "benchmark_total_s": round(sum(b), 2),
                     "benchmark_mean_s": round(sum(b) / len(b), 2) if b else None,
                     "benchmark_max_s": round(max(b), 2) if b else None,
                     "log_total_s": round(sum(log_s), 1),
                     "log_mean_s": round(sum(log_s) / len(log_s), 1) if log_s else None})
    with (out / "suite_per_rule.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]) if rows else ["rule"])
        w.writeheader()
        w.writerows(rows)
    train_windows = [(j["start"], j.get("end") or args.wall_end or j["start"])
                     for j in jobs if j["rule"] in TRAINING_RULES and j.get("start")]
    # Union of the training jobs' intervals: the time any training job ran.
    union, merged = 0.0, []
    for a, b in sorted(train_windows):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    union = sum(b - a for a, b in merged)
    starts = [j["start"] for j in jobs if j.get("start")]
    ends = [j["end"] for j in jobs if j.get("end")]
    wall_start = args.wall_start or (min(starts) if starts else None)
    wall_end = args.wall_end or (max(ends) if ends else None)
    wall = (wall_end - wall_start) if wall_start and wall_end else None
    fit = sum(r["fit_seconds"] or 0 for r in recs)
    ep = epoch_seconds(suite)
    summary = {
        "snakemake_rc": args.rc,
        "wall_s": round(wall, 1) if wall else None,
        "jobs_started": len(jobs), "jobs_finished": sum(1 for j in jobs if j.get("end")),
        "training_jobs_finished": len(recs),
        "training_benchmark_s_sum": round(sum(sum(bench.get(r, [])) for r in TRAINING_RULES), 2),
        "training_wall_time_s_sum (job function, metrics.json)":
            round(sum(r["wall_time_s"] or 0 for r in recs), 2),
        "fit_seconds_sum (Lightning fit, all seeds)": round(fit, 2),
        "wall_over_fit_seconds": round(wall / fit, 2) if wall and fit else None,
        "any_training_job_running_s (union of job intervals)": round(union, 1),
        "first_training_start_after_wall_start_s":
            round(merged[0][0] - wall_start, 1) if merged and wall_start else None,
        "epochs_from_logs": ep,
        "wall_over_epoch_seconds": round(wall / ep["epoch_seconds_sum"], 2)
        if wall and ep["epoch_seconds_sum"] else None,
        "training_settings_seen": sorted({(r["arch"], r["image_size"], r["epochs"], r["n_seeds"],
                                           r["pretrained"], r["device"]) for r in recs},
                                         key=str),
    }
    if args.smi and Path(args.smi).exists():
        samples = smi_samples(Path(args.smi))
        whole = [s for s in samples if wall_start and wall_end and wall_start <= s[0] <= wall_end]
        summary["gpu_whole_run"] = _busy(whole)
        summary["gpu_while_training_jobs_ran"] = _busy(samples, [tuple(m) for m in merged])
        summary["gpu_all_samples"] = _busy(samples)
    (out / "suite_summary.json").write_text(json.dumps(summary, indent=2, default=str))
    (out / "suite_training_jobs.json").write_text(json.dumps(recs, indent=1))
    print(json.dumps(summary, indent=2, default=str))
    print(f"\n{'rule':<20}{'started':>8}{'done':>6}{'bench n':>8}{'total s':>10}{'mean s':>9}"
          f"{'max s':>8}{'log tot s':>10}")
    for r in rows:
        print(f"{r['rule']:<20}{r['started']:>8}{r['finished']:>6}{r['benchmark_files']:>8}"
              f"{r['benchmark_total_s']:>10}{str(r['benchmark_mean_s']):>9}"
              f"{str(r['benchmark_max_s']):>8}{r['log_total_s']:>10}")


if __name__ == "__main__":
    main()
