"""Snakemake adapter: every metrics.json into results/summary.csv."""

import logging

from nidecode.aggregate import accuracy_table, fold_spread, summarise
from nidecode.scripting import run


def main(smk) -> None:
    summary = summarise(list(smk.input))
    summary.to_csv(smk.output.summary, index=False)
    fold_spread(summary).to_csv(smk.output.folds, index=False)
    logging.info("accuracy (mean over folds):\n%s", accuracy_table(summary).to_string())


run(main, snakemake)  # noqa: F821
