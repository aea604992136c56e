"""Snakemake adapter: the GLM on every future-work analysis of one session."""

import logging

from nidecode.decode import Scope, glm_within
from nidecode.errors import NidecodeError
from nidecode.io import open_netcdf
from nidecode.metrics import write_metrics_rows
from nidecode.scripting import run
from nidecode.statistics import add_statistics


def main(smk) -> None:
    ds, stimuli = open_netcdf(smk.input.responses), open_netcdf(smk.input.stimuli)
    labels = dict(zip(smk.params.label_names, smk.input.labels, strict=True))
    scope = Scope.from_config(smk.config, stimuli, labels, split=smk.wildcards.split)
    n_within = smk.config["controls"]["within_block_permutations"]
    rows = []
    for analysis in smk.params.analyses:
        for fold in range(scope.n_folds):
            try:
                m = glm_within(ds, stimuli, fold, scope, smk.config["decoding"]["glm"]["C"],
                               analysis=analysis, n_within_block=n_within)
            except NidecodeError as err:  # too few units or trials in this session: say so
                logging.warning("%s %s: skipped (%s)", smk.wildcards.session, analysis, err)
                rows.append({"analysis": analysis, "session": smk.wildcards.session,
                             "fold": fold, "model": "glm", "task": "within",
                             "split": scope.split, "skipped": str(err)})
                continue
            rows.append(add_statistics(m))
    write_metrics_rows(rows, smk.output[0])
    logging.info("%s: %d analyses x %d folds", smk.wildcards.session, len(smk.params.analyses),
                 scope.n_folds)


run(main, snakemake)  # noqa: F821
