"""Snakemake adapter: the gabor-epoch drift control of one session, in every split the GLM
runs (the epoch read once)."""

import logging

from nidecode.common.scripting import run
from nidecode.data.gabors import session_epoch
from nidecode.data.nwb import provenance_of, read_session
from nidecode.decoders.registry import load_modules
from nidecode.evaluation.metrics import write_metrics_rows
from nidecode.jobs.blank_control import response_decoders
from nidecode.jobs.drift_control import drift_control_session


def main(smk) -> None:
    cfg, name = smk.config, smk.wildcards.session
    load_modules(cfg["decoding"].get("decoder_modules") or ())  # decoders a file registers
    session = read_session(smk.input.nwb, provenance=cfg["source"])
    areas = tuple(cfg["decoding"]["areas"])
    epoch = session_epoch(session, areas, cfg["responses"]["filters"],
                          provenance_of(cfg["source"]), name)
    d = cfg["decoding"]
    for split, out in zip(smk.params.splits, smk.output, strict=True):
        rows = drift_control_session(
            epoch, split, response_decoders(cfg), n_folds=d["n_folds"], seed=d["seed"],
            areas=areas, max_relabellings=cfg["controls"]["block_relabellings"],
            n_permutations={"glm": cfg["controls"]["glm_permutations"]})
        write_metrics_rows(rows, out)
        for r in rows:
            logging.info("drift control %s %s fold %s (%s split): %s", r["model"], r["session"],
                         r.get("fold"), r["split"], r.get("skipped") or
                         f"balanced accuracy {r['balanced_accuracy']:.3f} (chance 0.5), "
                         f"p_time {r['p_time']:.2f}")


run(main, snakemake)  # noqa: F821
