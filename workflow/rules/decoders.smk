# The CPU decoders: the paper's GLM within animal in every split, with its nulls, the
# top-stimulus readout of the neural images, the time-confound control and the paper's
# future-work analyses; the reference decoders of decoding.baselines (SVC, kNN, SVC on W and
# any registered one) beside it, within and across animals; the blank-presentation control
# and the gabor-epoch drift control.


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


rule baselines_within:
    """Decoders users already trust (decoding.baselines: SVC, kNN, SVC on W) on one animal in
    one split: every fold, with the GLM's nulls."""
    priority: 5
    input:
        responses="results/responses/{session}.nc",
        stimuli="results/stimuli.nc",
    output:
        "results/decode/{split}/baselines/within/{session}.json",
    params:
        # W in both modes where the network runs in both (the null animal, the controls).
        modes=lambda wc: (ALL_PS_MODES if wc.session in CONTROLS["null_sessions"]
                          + CONTROLS["sessions"] else PS_MODES),
    # Its block-relabelling null fits in threads (the same numbers for any count); the
    # exact SVCs' kernels grow with the square of the trials (nidecode.jobs.resources).
    threads: BASELINE_THREADS
    resources:
        mem_mb=lambda wc, input, threads, attempt: within_memory_mb(
            input.responses, DECODING["n_folds"], threads, SVC_BUDGET) * attempt,
        runtime=CPU_RESOURCES["runtime"],
    benchmark:
        bench("baselines_within", "results/decode/{split}/baselines/within/{session}.json")
    log:
        "results/logs/baselines_within/{split}/{session}.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/baselines.py"


use rule baselines_within as baselines_cross with:
    input:
        train=lambda wc: combo_responses(wc.combo)[0],
        test=lambda wc: combo_responses(wc.combo)[1],
        stimuli="results/stimuli.nc",
    output:
        "results/decode/{split}/baselines/cross/{combo}.json",
    params:
        modes=PS_MODES,
    resources:
        mem_mb=lambda wc, input, attempt: cross_memory_mb(input.train, input.test,
                                                          SVC_BUDGET) * attempt,
        runtime=CPU_RESOURCES["runtime"],
    benchmark:
        bench("baselines_cross", "results/decode/{split}/baselines/cross/{combo}.json")
    log:
        "results/logs/baselines_cross/{split}/{combo}.log",


rule blank_control:
    """Block kind (scenes vs gratings) from the grey-screen blanks inside the blocks, with the
    GLM and the response baselines in one split: above chance is time and context only."""
    input:
        responses="results/responses/{session}.nc",
        stimuli="results/stimuli.nc",
    output:
        "results/decode/{split}/blank_control/{session}.json",
    resources:
        **CPU_RESOURCES,
    benchmark:
        bench("blank_control", "results/decode/{split}/blank_control/{session}.json")
    log:
        "results/logs/blank_control/{split}/{session}.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/blank_control.py"


rule drift_control:
    """A label that is only time, from the session's own gabor epoch (six stretches labelled
    SG NS NS SG NS SG, condition means removed), with the GLM and the response baselines in
    every split the GLM runs (one job: the epoch is read once) and the main analysis's
    statistics: above chance is drift."""
    priority: 15
    input:
        nwb=session_nwb,
    output:
        expand("results/decode/{split}/drift_control/{{session}}.json", split=SPLITS),
    params:
        splits=SPLITS,
    resources:
        **CPU_RESOURCES,
    benchmark:
        bench("drift_control", DRIFT_CONTROL_JOB)
    log:
        "results/logs/drift_control/{session}.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/drift_control.py"
