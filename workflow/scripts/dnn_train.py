"""Snakemake adapter of every trained-network rule: one setup, then the job the rule's decoder
(params.decoder) and wildcards name (nidecode.jobs.training.train_job)."""

import logging
import os

from nidecode.common.scripting import run


def main(smk) -> None:
    os.environ["TORCH_HOME"] = smk.params.torch_home  # before torch looks for cached weights
    from nidecode.jobs.training import train_job

    m = train_job(smk.params.decoder, dict(smk.wildcards), smk.input, smk.output, smk.config,
                  dict(zip(smk.params.label_names, smk.input.labels, strict=True)),
                  smk.params.workdir, smk.params.get("combos", ()), smk.params.get("null"))
    if "p_time" in m and "accuracy" not in m:  # a block-relabelling null
        logging.info("%s %s: observed %.3f, null mean %.3f, p_time %.2f", smk.params.decoder,
                     dict(smk.wildcards), m["time_null_observed"],
                     sum(m["time_null_accuracies"]) / m["n_time_null"], m["p_time"])
        return
    logging.info("%s %s: accuracy %.3f, pretrained %s", smk.params.decoder, dict(smk.wildcards),
                 m["accuracy"], m["pretrained"])


run(main, snakemake)  # noqa: F821
