"""Snakemake adapter: GLM baseline on one fold of one session."""

import logging

from nidecode.config import decoding_scope
from nidecode.decode import glm_within
from nidecode.io import open_netcdf
from nidecode.metrics import write_metrics
from nidecode.scripting import run


def main(smk) -> None:
    dec = smk.config["decoding"]
    ds, stimuli = open_netcdf(smk.input.responses), open_netcdf(smk.input.stimuli)
    scope = decoding_scope(smk.config, stimuli)
    # The folds share one process: a GLM fit takes less time than starting Python.
    for fold, path in enumerate(smk.output):
        m = glm_within(ds, stimuli, fold, scope, C=dec["glm"]["C"],
                       n_permutations=smk.config["controls"]["glm_permutations"])
        write_metrics(m, path)
        logging.info("GLM %s fold %d: accuracy %.3f", smk.wildcards.session, fold, m["accuracy"])


run(main, snakemake)  # noqa: F821
