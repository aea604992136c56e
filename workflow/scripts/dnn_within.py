"""Snakemake adapter: GoogLeNet on one fold of one session's neural images."""

import logging
import os

from nidecode.scripting import run


def main(smk) -> None:
    os.environ["TORCH_HOME"] = smk.params.torch_home  # before torch looks for cached weights
    from nidecode.config import dnn_settings
    from nidecode.decode import dnn_within
    from nidecode.io import open_netcdf
    from nidecode.metrics import write_metrics

    settings = dnn_settings(smk.config)
    m = dnn_within(open_netcdf(smk.input.weights), open_netcdf(smk.input.stimuli),
                   int(smk.wildcards.fold), settings, smk.params.workdir)
    write_metrics(m, smk.output[0])
    logging.info("GoogLeNet %s fold %s (%s): accuracy %.3f, pretrained %s",
                 smk.wildcards.session, smk.wildcards.fold, smk.wildcards.mode, m["accuracy"],
                 m["pretrained"])


run(main, snakemake)  # noqa: F821
