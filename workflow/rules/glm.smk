# The GLM baseline: within animal in every split, with its nulls, the top-stimulus readout of
# the neural images, the time-confound control and the paper's future-work analyses.


rule glm_within:
    """GLM on one animal in one split: every fold, the nulls, readout and time confound."""
    input:
        responses="results/responses/{session}.nc",
        stimuli="results/stimuli.nc",
    output:
        "results/decode/{split}/glm/within/{session}.json",
    resources:
        **CPU_RESOURCES,
    benchmark:
        bench("glm_within", "results/decode/{split}/glm/within/{session}.json")
    log:
        "results/logs/glm_within/{split}/{session}.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/glm_within.py"


rule glm_analyses:
    """The GLM on the paper's future work: sub-classes, regions, arousal, unit counts."""
    input:
        responses="results/responses/{session}.nc",
        stimuli="results/stimuli.nc",
        labels=list(LABEL_FILES.values()),
    output:
        "results/decode/{split}/glm/analyses/{session}.json",
    params:
        analyses=ANALYSES,
        label_names=list(LABEL_FILES),
    resources:
        **CPU_RESOURCES,
    benchmark:
        bench("glm_analyses", "results/decode/{split}/glm/analyses/{session}.json")
    log:
        "results/logs/glm_analyses/{split}/{session}.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/glm_analyses.py"
