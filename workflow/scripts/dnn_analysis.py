"""Snakemake adapter: GoogLeNet on one future-work analysis (train mode), one fold."""

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
    labels = dict(zip(smk.params.label_names, smk.input.labels, strict=True))
    scope = decoding_scope(smk.config, stimuli, labels)
    weights = within_weights_dataset(ds, stimuli, scope, "train", analysis=smk.wildcards.analysis)
    m = dnn_within(weights, stimuli, int(smk.wildcards.fold), dnn_settings(smk.config),
                   smk.params.workdir)
    write_metrics(m, smk.output[0])
    logging.info("%s %s fold %s: accuracy %.3f", smk.wildcards.analysis, smk.wildcards.session,
                 smk.wildcards.fold, m["accuracy"])


run(main, snakemake)  # noqa: F821
