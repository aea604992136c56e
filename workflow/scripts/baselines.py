"""Snakemake adapter: the baseline decoders (decoding.baselines) within one animal in one split
(rule baselines_within) or across animals on one combo (rule baselines_cross)."""

import logging

from nidecode.common.io import open_netcdf
from nidecode.common.scripting import run
from nidecode.decoders.reference import get as get_decoder
from nidecode.evaluation.metrics import write_metrics_rows
from nidecode.evaluation.statistics import add_statistics
from nidecode.jobs.decode import Scope, decoder_cross, decoders_session


def main(smk) -> None:
    stimuli = open_netcdf(smk.input.stimuli)
    scope = Scope.from_config(smk.config, stimuli, split=smk.wildcards.split)
    d, c = smk.config["decoding"], smk.config["controls"]
    if smk.rule == "baselines_within":
        rows = decoders_session(open_netcdf(smk.input.responses), stimuli, scope,
                                d["baselines"], smk.params.modes,
                                n_permutations=c["baseline_permutations"],
                                max_relabellings=c["block_relabellings"])
    else:
        train = [open_netcdf(p) for p in smk.input.train]
        test = [open_netcdf(p) for p in smk.input.test]
        seeds = tuple(d["dnn"]["seeds"] or [d["seed"]])
        rows = [add_statistics(decoder_cross(
                    train, test, stimuli, mode, scope, d["calibration_fraction"], name, params,
                    seeds, smk.wildcards.combo, c["baseline_permutations"]))
                for name, params in d["baselines"].items()
                if get_decoder(name).inputs == "weights" for mode in smk.params.modes]
    write_metrics_rows(rows, smk.output[0])
    for r in rows:
        logging.info("%s %s %s fold %s (%s split): accuracy %.3f, p_time %s", r["model"],
                     r.get("ps_mode") or "", r.get("session") or r.get("combo"), r.get("fold"),
                     r["split"], r["accuracy"], r.get("p_time"))


run(main, snakemake)  # noqa: F821
