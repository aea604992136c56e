"""Snakemake adapter: the GLM on every future-work analysis of one session."""

import logging

from nidecode.common.analyses import Analysis
from nidecode.common.errors import NidecodeError
from nidecode.common.io import open_netcdf
from nidecode.common.scripting import run
from nidecode.evaluation.metrics import write_metrics_rows
from nidecode.evaluation.statistics import add_statistics
from nidecode.jobs.runner import within
from nidecode.jobs.scope import Scope, analysis_folds


def main(smk) -> None:
    ds, stimuli = open_netcdf(smk.input.responses), open_netcdf(smk.input.stimuli)
    labels = dict(zip(smk.params.label_names, smk.input.labels, strict=True))
    scope = Scope.from_config(smk.config, stimuli, labels, split=smk.wildcards.split)
    n_within = smk.config["controls"]["within_block_permutations"]
    rows = []

    def skipped(analysis: Analysis, fold: int, err: NidecodeError) -> dict:
        # too few units, trials or blocks in this session: say so
        logging.warning("%s %s: skipped (%s)", smk.wildcards.session, analysis.name, err)
        return {"analysis": analysis.name, "session": smk.wildcards.session, "fold": fold,
                "model": "glm", "task": "within", "split": scope.split, "skipped": str(err)}

    # The rule passes the analyses' names (nidecode.common.analyses): their records here.
    for analysis in map(Analysis.parse, smk.params.analyses):
        try:  # an arousal state may span fewer blocks: leave-one-block-out over those it has
            sc = analysis_folds(ds, stimuli, scope, analysis)
        except NidecodeError as err:
            rows += [skipped(analysis, fold, err) for fold in range(scope.n_folds)]
            continue
        for fold in range(sc.n_folds):
            try:
                m = within(ds, stimuli, fold, sc, "glm", {"C": smk.config["decoding"]["glm"]["C"]},
                           analysis=analysis, n_within_block=n_within)
            except NidecodeError as err:
                rows.append(skipped(analysis, fold, err))
                continue
            rows.append(add_statistics(m))
    write_metrics_rows(rows, smk.output[0])
    logging.info("%s: %d analyses x %d folds", smk.wildcards.session, len(smk.params.analyses),
                 scope.n_folds)


run(main, snakemake)  # noqa: F821
