"""Snakemake adapter: per-trial responses of one session."""

import logging

from nidecode.common.io import open_netcdf, write_netcdf
from nidecode.common.scripting import run
from nidecode.data.nwb import read_session
from nidecode.data.responses import ResponseSettings, check_stimuli, compute_responses
from nidecode.data.stimuli import Canvas


def main(smk) -> None:
    # A stimuli.nc left from another stimulus config (render_stimuli has no params, so
    # Snakemake does not rerun it when stimuli.* changes) ends here with one clear message.
    stimuli = open_netcdf(smk.input.stimuli)
    check_stimuli(
        stimuli,
        smk.input.stimuli,
        canvas=Canvas.from_config(smk.config),
        allen_scenes=smk.config["source"] in ("allen", "dandi"),
    )
    # Where the file came from decides what an error may advise (only files a rule made are
    # ever called deletable).
    session = read_session(smk.input.nwb, provenance=smk.config["source"])
    ds = compute_responses(
        session,
        stimuli,
        ResponseSettings.from_config(smk.config),
        animal=smk.wildcards.session,
        source=smk.config["source"],
        stimuli_path=smk.input.stimuli,
    )
    write_netcdf(ds, smk.output[0])
    logging.info(
        "%s: %d presentations x %d units (%s); dropped: %d presentations overlapping invalid "
        "times, %d blank presentations (kept on the blank dimension), %d units on invalid channels",
        smk.wildcards.session,
        ds.sizes["presentation"],
        ds.sizes["unit"],
        ds.attrs["baseline"],
        ds.attrs["n_presentations_invalid_masked"],
        ds.attrs["n_blank_presentations_dropped"],
        ds.attrs["n_units_invalid_channel_dropped"],
    )


run(main, snakemake)  # noqa: F821
