"""Snakemake adapter: render the unique stimuli into stimuli.nc."""

import logging

import numpy as np

from nidecode.common.io import write_netcdf
from nidecode.common.scripting import run
from nidecode.data.stimuli import Canvas, render_stimuli


def main(smk) -> None:
    templates = None
    if smk.input.templates:
        templates = np.load(smk.input.templates[0])["templates"]
    ds = render_stimuli(Canvas.from_config(smk.config), templates)
    ds.attrs["source"] = smk.config["source"]
    write_netcdf(ds, smk.output[0])
    logging.info(
        "rendered %d stimuli (natural scenes: %s)",
        ds.sizes["stimulus"],
        ds.attrs["natural_scene_source"],
    )


run(main, snakemake)  # noqa: F821
