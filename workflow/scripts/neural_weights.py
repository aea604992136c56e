"""Snakemake adapter: W for every fold of one session in one preferred-stimulus mode."""

import logging

from nidecode.config import decoding_scope
from nidecode.decode import within_weights_dataset
from nidecode.io import open_netcdf, write_netcdf
from nidecode.scripting import run


def main(smk) -> None:
    ds = open_netcdf(smk.input.responses)
    stimuli = open_netcdf(smk.input.stimuli)
    w = within_weights_dataset(ds, stimuli, decoding_scope(smk.config, stimuli),
                               smk.wildcards.mode)
    write_netcdf(w, smk.output[0])
    logging.info("%s: W %s (%s mode)", smk.wildcards.session, dict(w.W.sizes), w.attrs["ps_mode"])


run(main, snakemake)  # noqa: F821
