"""Snakemake adapter: simulate one animal, write its Allen-layout NWB file."""

import logging

from nidecode.config import animal_spec, protocol, simulation_canvas
from nidecode.scripting import run
from nidecode.simulate import simulate_session, write_nwb


def main(smk) -> None:
    spec = animal_spec(smk.config, smk.wildcards.session)
    sim = simulate_session(spec, protocol(smk.config), simulation_canvas(smk.config))
    write_nwb(sim, smk.output[0])
    logging.info(
        "simulated %s: %d units, %d spikes -> %s",
        spec.name,
        len(sim.spike_times),
        sum(len(s) for s in sim.spike_times),
        smk.output[0],
    )


run(main, snakemake)  # noqa: F821
