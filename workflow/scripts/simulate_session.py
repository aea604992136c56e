"""Snakemake adapter: simulate one animal, write its Allen-layout NWB file."""

import logging

from nidecode.common.scripting import run
from nidecode.data.session_clock import Protocol
from nidecode.data.simulate import AnimalSpec, simulate_session, write_nwb
from nidecode.data.stimuli import Canvas


def main(smk) -> None:
    spec = AnimalSpec.from_config(smk.config, smk.wildcards.session)
    sim = simulate_session(spec, Protocol.from_config(smk.config),
                           Canvas.from_config(smk.config, "simulation"))
    write_nwb(sim, smk.output[0])
    logging.info(
        "simulated %s: %d units, %d spikes -> %s",
        spec.name,
        len(sim.spike_times),
        sum(len(s) for s in sim.spike_times),
        smk.output[0],
    )


run(main, snakemake)  # noqa: F821
