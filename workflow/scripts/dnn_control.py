"""Snakemake adapter: a GoogLeNet control (label shuffle or response shuffle), one fold."""

import logging
import os

from nidecode.scripting import run


def main(smk) -> None:
    os.environ["TORCH_HOME"] = smk.params.torch_home  # before torch looks for cached weights
    from nidecode.config import decoding_scope, dnn_settings
    from nidecode.decode import dnn_within, within_weights_dataset
    from nidecode.io import open_netcdf
    from nidecode.metrics import write_metrics

    ds, stimuli = open_netcdf(smk.input.responses), open_netcdf(smk.input.stimuli)
    control = smk.wildcards.control
    weights = within_weights_dataset(ds, stimuli, decoding_scope(smk.config, stimuli),
                                     smk.wildcards.mode,
                                     response_shuffle=control == "response_shuffle")
    shuffle = int(control.split("-")[1]) if control.startswith("label_shuffle-") else None
    m = dnn_within(weights, stimuli, int(smk.wildcards.fold), dnn_settings(smk.config),
                   smk.params.workdir, label_shuffle=shuffle)
    write_metrics(m, smk.output[0])
    logging.info("control %s %s fold %s (%s): accuracy %.3f", control, smk.wildcards.session,
                 smk.wildcards.fold, smk.wildcards.mode, m["accuracy"])


run(main, snakemake)  # noqa: F821
