"""Snakemake adapter: the report's front page from summary.csv and group_tests.csv."""

import pandas as pd

from nidecode.common.io import atomic_path
from nidecode.common.scripting import run
from nidecode.decoders.registry import load_modules
from nidecode.report.front_page import front_page


def main(smk) -> None:
    load_modules(smk.config["decoding"]["decoder_modules"])  # decoders a file registers
    text = front_page(pd.read_csv(smk.input.summary), pd.read_csv(smk.input.groups),
                      smk.config, pd.read_csv(smk.input.drift_groups))
    with atomic_path(smk.output[0]) as tmp:
        tmp.write_text(text)


run(main, snakemake)  # noqa: F821
