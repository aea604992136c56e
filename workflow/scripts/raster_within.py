"""Snakemake adapter: GoogLeNet on temporal raster images, one fold of one session."""

import logging
import os

from nidecode.scripting import run


def main(smk) -> None:
    os.environ["TORCH_HOME"] = smk.params.torch_home  # before torch looks for cached weights
    from nidecode.config import decoding_scope, dnn_settings
    from nidecode.decode import raster_within
    from nidecode.io import open_netcdf
    from nidecode.metrics import write_metrics

    stimuli = open_netcdf(smk.input.stimuli)
    m = raster_within(open_netcdf(smk.input.responses), stimuli, int(smk.wildcards.fold),
                      decoding_scope(smk.config, stimuli), dnn_settings(smk.config),
                      smk.params.workdir)
    write_metrics(m, smk.output[0])
    logging.info("raster %s fold %s: accuracy %.3f", smk.wildcards.session,
                 smk.wildcards.fold, m["accuracy"])


run(main, snakemake)  # noqa: F821
