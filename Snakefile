# nidecode: decoding visual stimuli from Neuropixels recordings through neural images
# (Iqbal et al., IJCNN 2019) on Allen Visual Coding - Neuropixels data or its simulated stand-in.
#   snakemake --cores all                       embedded default (simulated sessions)
#   snakemake --cores all --configfile config/allen.yaml   real Allen data
from snakemake.utils import min_version

min_version("9.0")


# The embedded default; --configfile merges a user config on top of it.
configfile: f"{workflow.basedir}/config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/stimuli.smk"
include: "workflow/rules/responses.smk"


rule all:
    input:
        "results/stimuli.nc",
        expand("results/responses/{session}.nc", session=SESSIONS),
    default_target: True
