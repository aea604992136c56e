# nidecode: decoding visual stimuli from Neuropixels recordings through neural images
# (Iqbal et al., IJCNN 2019) on Allen Visual Coding - Neuropixels data or its simulated stand-in.
#   snakemake --cores all                                   embedded default (simulated)
#   snakemake --cores all --configfile config/allen.yaml    real Allen data
#   snakemake --report results/report.html                  HTML report with every figure
import os

from snakemake.utils import min_version

min_version("9.0")


# The embedded default is the base of every run: files given with --configfile are layers on
# it, later ones winning key by key (Snakemake re-applies them after this file), so
# `--configfile config/allen.yaml` runs the default analysis on Allen's sessions. One source
# of truth for every setting; --replace-workflow-config drops this base.
configfile: f"{workflow.basedir}/config/config.yaml"


# The report's front page is generated from the results (rule front_page) once they exist.
FRONT_PAGE = "results/front_page.rst"


report: os.path.abspath(FRONT_PAGE) if os.path.exists(FRONT_PAGE) else "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/stimuli.smk"
include: "workflow/rules/responses.smk"
include: "workflow/rules/decoders.smk"
include: "workflow/rules/networks.smk"
include: "workflow/rules/report.smk"


localrules:
    all,


rule all:
    input:
        "results/stimuli.nc",
        expand("results/responses/{session}.nc", session=SESSIONS),
        "results/summary.csv",
        expand("results/figures/{name}.png", name=FIGURES),
        FRONT_PAGE,
    default_target: True
