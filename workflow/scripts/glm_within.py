"""Snakemake adapter: the GLM on every fold of one session in one split, with its nulls, the
top-stimulus readout of the neural images and the time-confound control."""

import logging

from nidecode.common.io import open_netcdf
from nidecode.common.scripting import run
from nidecode.evaluation.metrics import write_metrics_rows
from nidecode.jobs.glm_session import glm_session
from nidecode.jobs.scope import Scope


def main(smk) -> None:
    ds, stimuli = open_netcdf(smk.input.responses), open_netcdf(smk.input.stimuli)
    scope = Scope.from_config(smk.config, stimuli, split=smk.wildcards.split)
    c = smk.config["controls"]
    rows = glm_session(ds, stimuli, scope, C=smk.config["decoding"]["glm"]["C"],
                       n_permutations=c["glm_permutations"],
                       max_relabellings=c["block_relabellings"],
                       time_confound_control=smk.wildcards.split == smk.config["decoding"]["split"])
    write_metrics_rows(rows, smk.output[0])
    for r in rows:
        logging.info("%s %s fold %s (%s split): accuracy %.3f, p_time %s", r["model"],
                     r["analysis"], r["fold"], r["split"], r["accuracy"], r.get("p_time"))


run(main, snakemake)  # noqa: F821
