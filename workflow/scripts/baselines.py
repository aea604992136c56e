"""Snakemake adapter: the reference decoders (decoding.baselines) within one animal in one
split, or across animals on one combo (those that read W)."""

import logging

from nidecode.common.io import open_netcdf
from nidecode.common.scripting import run
from nidecode.decoders.registry import get
from nidecode.evaluation.metrics import write_metrics_rows
from nidecode.evaluation.statistics import add_statistics
from nidecode.jobs.runner import cross, session
from nidecode.jobs.scope import Scope


def main(smk) -> None:
    stimuli = open_netcdf(smk.input.stimuli)
    scope = Scope.from_config(smk.config, stimuli, split=smk.wildcards.split)
    d, c = smk.config["decoding"], smk.config["controls"]
    if "combo" not in smk.wildcards.keys():
        rows = session(open_netcdf(smk.input.responses), stimuli, scope, d["baselines"],
                       smk.params.modes, n_permutations=c["baseline_permutations"],
                       max_relabellings=c["block_relabellings"], n_jobs=smk.threads)
    else:
        train = [open_netcdf(p) for p in smk.input.train]
        test = [open_netcdf(p) for p in smk.input.test]
        seeds = tuple(d["dnn"]["seeds"] or [d["seed"]])
        rows = [add_statistics(cross(
                    train, test, stimuli, mode, scope, d["calibration_fraction"], name, params,
                    seeds, smk.wildcards.combo, c["baseline_permutations"])[0])
                for name, params in d["baselines"].items()
                if get(name).across_animals is not None for mode in smk.params.modes]
    write_metrics_rows(rows, smk.output[0])
    for r in rows:
        logging.info("%s %s %s fold %s (%s split): accuracy %.3f, p_time %s", r["model"],
                     r.get("ps_mode") or "", r.get("session") or r.get("combo"), r.get("fold"),
                     r["split"], r["accuracy"], r.get("p_time"))


run(main, snakemake)  # noqa: F821
