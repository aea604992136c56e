"""Snakemake adapter of every network rule (dnn_within, dnn_cross, dnn_control, dnn_analysis,
raster_within; the backbone is decoding.dnn.arch, EfficientNet-Lite0 in the shipped configs): one
setup, then the package function the rule names."""

import logging
import os

from nidecode.common.scripting import run


def main(smk) -> None:
    os.environ["TORCH_HOME"] = smk.params.torch_home  # before torch looks for cached weights
    from nidecode.jobs.training import train_job

    m = train_job(smk.rule, dict(smk.wildcards), smk.input, smk.output, smk.config,
                  dict(zip(smk.params.label_names, smk.input.labels, strict=True)),
                  smk.params.workdir)
    logging.info("%s %s: accuracy %.3f, pretrained %s", smk.rule, dict(smk.wildcards),
                 m["accuracy"], m["pretrained"])


run(main, snakemake)  # noqa: F821
