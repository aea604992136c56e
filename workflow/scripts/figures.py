"""Snakemake adapter: draw the paper's figures."""

import pandas as pd

from nidecode.common.io import open_netcdf
from nidecode.common.scripting import run
from nidecode.jobs.inputs import within_weights_dataset
from nidecode.jobs.scope import Scope
from nidecode.report import figures as F


def main(smk) -> None:
    out = smk.output
    full = pd.read_csv(smk.input.summary)
    # The paper's figures show the main split; fig. 13 compares the splits.
    summary = full[full.split.isna() | (full.split == smk.config["decoding"]["split"])]
    ds = open_netcdf(smk.input.responses)
    stimuli = open_netcdf(smk.input.stimuli)
    F.raster_figure(ds, out.fig1_raster)
    F.example_units_figure(ds, out.fig2a_example_units)
    F.pca_responses_figure(ds, out.fig2b_pca_responses)
    F.preferred_stimuli_figure(ds, stimuli, out.fig3_preferred_stimuli)
    scope = Scope.from_config(smk.config, stimuli)
    weights = within_weights_dataset(ds, stimuli, scope, smk.params.mode)
    F.neural_images_figure(weights, stimuli, out.fig5_neural_images)
    null = smk.config["controls"]["null_sessions"]
    F.within_figure(summary, out.fig6a_within, null)
    F.cross_figure(summary, out.fig6b_cross)
    # Each network job's test trials: one batch of combos per file (coordinate combo).
    cross = {}
    for w in (open_netcdf(p) for p in smk.input.cross):
        for combo in dict.fromkeys(w.combo.values.tolist()):
            cross[f"{w.attrs['ps_mode']}/{combo}"] = w.isel(trial=w.combo.values == combo)
    F.embeddings_figure(cross, summary, stimuli, out.fig7_embeddings)
    F.controls_figure(summary, smk.config["controls"]["null_sessions"], out.fig8_controls)
    F.analyses_figure(summary, "label", out.fig9_subclasses, "Sub-classes (k-class)", null)
    F.analyses_figure(summary, "areas", out.fig10_regions, "Other brain areas (GLM)", null)
    F.analyses_figure(summary, "arousal", out.fig11_arousal,
                      "Running vs still (equal trial counts)", null)
    F.unit_count_figure(summary, out.fig12_unit_counts, null)
    F.transfer_figure(summary, smk.config["decoding"]["transfer"]["sessions"]
                      or smk.config["sessions"], out.fig15_transfer, null)
    F.retention_figure(full, out.fig16_retention, null)
    F.blank_control_figure(full, smk.config["controls"]["null_sessions"],
                           out.fig17_blank_control)
    F.drift_control_figure(full, smk.config["controls"]["null_sessions"],
                           out.fig18_drift_control)
    F.benchmarks_figure(pd.read_csv(smk.input.benchmarks), out.fig14_rule_benchmarks)
    F.time_confound_figure(full, smk.config["controls"]["null_sessions"],
                           out.fig13_time_confound)


run(main, snakemake)  # noqa: F821
