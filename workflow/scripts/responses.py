"""Snakemake adapter: per-trial responses of one session."""

import logging

from nidecode.config import response_settings
from nidecode.io import open_netcdf, write_netcdf
from nidecode.nwb import read_session
from nidecode.responses import compute_responses
from nidecode.scripting import run


def main(smk) -> None:
    session = read_session(smk.input.nwb)
    ds = compute_responses(session, open_netcdf(smk.input.stimuli),
                           response_settings(smk.config), animal=smk.wildcards.session,
                           source=smk.config["source"])
    write_netcdf(ds, smk.output[0])
    logging.info("%s: %d presentations x %d units (%s)", smk.wildcards.session,
                 ds.sizes["presentation"], ds.sizes["unit"], ds.attrs["baseline"])


run(main, snakemake)  # noqa: F821
