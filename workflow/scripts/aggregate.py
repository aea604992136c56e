"""Snakemake adapter: every metrics.json into results/summary.csv."""

import logging

from nidecode.common.scripting import run
from nidecode.decoders.registry import load_modules
from nidecode.report.aggregate import (
    accuracy_table,
    benchmark_table,
    fold_spread,
    group_time_tests,
    retention,
    summarise,
)


def main(smk) -> None:
    load_modules(smk.config["decoding"]["decoder_modules"])  # decoders a file registers
    summary = summarise(list(smk.input.metrics))
    summary.to_csv(smk.output.summary, index=False)
    fold_spread(summary).to_csv(smk.output.folds, index=False)
    kept = retention(summary)
    kept.to_csv(smk.output.retention, index=False)
    logging.info("network vs svc_w on the same W (gap = what the network loses):\n%s",
                 kept.to_string())
    groups = group_time_tests(list(smk.input.metrics), smk.config["controls"]["null_sessions"])
    groups.to_csv(smk.output.groups, index=False)
    logging.info("block-relabelling tests across animals:\n%s", groups.to_string())
    drift = group_time_tests(list(smk.input.metrics), smk.config["controls"]["null_sessions"],
                             analysis="drift_control")
    drift.to_csv(smk.output.drift_groups, index=False)
    logging.info("gabor-epoch drift control, tests across animals:\n%s", drift.to_string())
    bench = benchmark_table(list(smk.input.benchmarks))
    bench.to_csv(smk.output.benchmarks, index=False)
    per_rule = bench.groupby("rule").agg(jobs=("s", "size"), total_s=("s", "sum"),
                                         peak_rss_mb=("max_rss_mb", "max"))
    logging.info("time per rule:\n%s", per_rule.sort_values("total_s").to_string())
    logging.info("accuracy (mean over folds):\n%s", accuracy_table(summary).to_string())


run(main, snakemake)  # noqa: F821
