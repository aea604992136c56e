"""Snakemake adapter: GLM baseline on one fold of one session."""

import logging

from nidecode.decode import glm_within
from nidecode.io import open_netcdf
from nidecode.metrics import write_metrics
from nidecode.scripting import run


def main(smk) -> None:
    dec = smk.config["decoding"]
    m = glm_within(open_netcdf(smk.input.responses), open_netcdf(smk.input.stimuli),
                   int(smk.wildcards.fold), dec["n_folds"], dec["seed"], C=dec["glm"]["C"])
    write_metrics(m, smk.output[0])
    logging.info("GLM %s fold %s: accuracy %.3f", smk.wildcards.session, smk.wildcards.fold,
                 m["accuracy"])


run(main, snakemake)  # noqa: F821
