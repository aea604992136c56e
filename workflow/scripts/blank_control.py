"""Snakemake adapter: the blank-presentation control of one session in one split."""

import logging

from nidecode.common.io import open_netcdf
from nidecode.common.scripting import run
from nidecode.evaluation.metrics import write_metrics_rows
from nidecode.jobs.blank_control import blank_control_session, response_decoders
from nidecode.jobs.scope import Scope


def main(smk) -> None:
    ds, stimuli = open_netcdf(smk.input.responses), open_netcdf(smk.input.stimuli)
    scope = Scope.from_config(smk.config, stimuli, split=smk.wildcards.split)
    rows = blank_control_session(ds, scope, response_decoders(smk.config))
    write_metrics_rows(rows, smk.output[0])
    for r in rows:
        logging.info("blank control %s %s fold %s (%s split): %s", r["model"], r["session"],
                     r["fold"], r["split"], r.get("skipped") or
                     f"balanced accuracy {r['balanced_accuracy']:.3f} (chance 0.5)")


run(main, snakemake)  # noqa: F821
