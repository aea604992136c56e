"""Snakemake adapter: GoogLeNet across animals for one combo."""

import logging
import os

from nidecode.scripting import run


def main(smk) -> None:
    # Test-only fault switch (tests/test_slurm.py): make one combo fail on purpose.
    if os.environ.get("NIDECODE_TEST_FAIL_COMBO") == smk.wildcards.combo:
        raise RuntimeError(f"NIDECODE_TEST_FAIL_COMBO={smk.wildcards.combo}: failing on purpose")
    os.environ["TORCH_HOME"] = smk.params.torch_home  # before torch looks for cached weights
    from nidecode.config import decoding_scope, dnn_settings
    from nidecode.decode import dnn_cross
    from nidecode.io import open_netcdf, write_netcdf
    from nidecode.metrics import write_metrics

    dec = smk.config["decoding"]
    stimuli = open_netcdf(smk.input.stimuli)
    m, test_weights = dnn_cross(
        [open_netcdf(p) for p in smk.input.train], [open_netcdf(p) for p in smk.input.test],
        stimuli, smk.wildcards.mode, dnn_settings(smk.config), smk.params.workdir,
        dec["calibration_fraction"], decoding_scope(smk.config, stimuli),
        combo=smk.wildcards.combo)
    write_netcdf(test_weights, smk.output.weights)
    write_metrics(m, smk.output.metrics)
    logging.info("GoogLeNet %s (%s): accuracy %.3f", smk.wildcards.combo, smk.wildcards.mode,
                 m["accuracy"])


run(main, snakemake)  # noqa: F821
