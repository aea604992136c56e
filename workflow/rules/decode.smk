# Decoding: neural-image weights, GLM baseline, GoogLeNet within and across animals, rasters.

localrules:
    fetch_weights,



rule neural_weights:
    """W per fold (neural images are W @ U) for one session and preferred-stimulus mode."""
    input:
        responses="results/responses/{session}.nc",
        stimuli="results/stimuli.nc",
    output:
        "results/weights/{mode}/{session}.nc",
    resources:
        **CPU_RESOURCES,
    log:
        "results/logs/neural_weights/{mode}/{session}.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/neural_weights.py"


rule glm_within:
    """L2 logistic regression on one animal's responses, every fold (one metrics.json each)."""
    input:
        responses="results/responses/{session}.nc",
        stimuli="results/stimuli.nc",
    output:
        expand("results/decode/glm/within/{{session}}/fold{fold}/metrics.json", fold=FOLDS),
    resources:
        **CPU_RESOURCES,
    log:
        "results/logs/glm_within/{session}.log",
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
        "results/decode/glm/analyses/{session}.json",
    params:
        analyses=ANALYSES,
        label_names=list(LABEL_FILES),
    resources:
        **CPU_RESOURCES,
    log:
        "results/logs/glm_analyses/{session}.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/glm_analyses.py"


rule dnn_within:
    """GoogLeNet on one animal's neural images, one fold."""
    input:
        weights="results/weights/{mode}/{session}.nc",
        stimuli="results/stimuli.nc",
    output:
        "results/decode/dnn_{mode}/within/{session}/fold{fold}/metrics.json",
    params:
        workdir=lambda wc, output: str(Path(output[0]).parent),
        torch_home=TORCH_HOME,
    threads: DNN_THREADS
    resources:
        **TRAINING_RESOURCES,
    log:
        "results/logs/dnn_within/{mode}/{session}/fold{fold}.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/dnn_within.py"


rule dnn_cross:
    """GoogLeNet trained on some animals' neural images, tested on others'."""
    input:
        train=lambda wc: combo_responses(wc.combo)[0],
        test=lambda wc: combo_responses(wc.combo)[1],
        stimuli="results/stimuli.nc",
    output:
        metrics="results/decode/dnn_{mode}/cross/{combo}/metrics.json",
        weights="results/decode/dnn_{mode}/cross/{combo}/test_weights.nc",
    params:
        workdir=lambda wc, output: str(Path(output.metrics).parent),
        torch_home=TORCH_HOME,
    threads: DNN_THREADS
    resources:
        **TRAINING_RESOURCES,
    log:
        "results/logs/dnn_cross/{mode}/{combo}.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/dnn_cross.py"


rule raster_within:
    """The paper's temporal raster-image variant, same model and folds."""
    input:
        responses="results/responses/{session}.nc",
        stimuli="results/stimuli.nc",
    output:
        "results/decode/raster/within/{session}/fold{fold}/metrics.json",
    params:
        workdir=lambda wc, output: str(Path(output[0]).parent),
        torch_home=TORCH_HOME,
    threads: DNN_THREADS
    resources:
        **TRAINING_RESOURCES,
    log:
        "results/logs/raster_within/{session}/fold{fold}.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/raster_within.py"


rule dnn_control:
    """GoogLeNet controls: labels shuffled (label_shuffle-k) or responses shuffled across trials."""
    input:
        responses="results/responses/{session}.nc",
        stimuli="results/stimuli.nc",
    output:
        "results/decode/dnn_{mode}/control/{control}/{session}/fold{fold}/metrics.json",
    params:
        workdir=lambda wc, output: str(Path(output[0]).parent),
        torch_home=TORCH_HOME,
    threads: DNN_THREADS
    resources:
        **TRAINING_RESOURCES,
    log:
        "results/logs/dnn_control/{mode}/{control}/{session}/fold{fold}.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/dnn_control.py"


rule dnn_analysis:
    """GoogLeNet (train mode) on one of the future-work analyses, one fold."""
    input:
        responses="results/responses/{session}.nc",
        stimuli="results/stimuli.nc",
        labels=list(LABEL_FILES.values()),
    output:
        "results/decode/dnn_train/analysis/{analysis}/{session}/fold{fold}/metrics.json",
    params:
        workdir=lambda wc, output: str(Path(output[0]).parent),
        torch_home=TORCH_HOME,
        label_names=list(LABEL_FILES),
    threads: DNN_THREADS
    resources:
        **TRAINING_RESOURCES,
    log:
        "results/logs/dnn_analysis/{analysis}/{session}/fold{fold}.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/dnn_analysis.py"


rule fetch_weights:
    """Fill TORCH_HOME's cache with GoogLeNet's ImageNet weights (needs internet)."""
    output:
        f"{TORCH_HOME}/hub/checkpoints/{GOOGLENET_IMAGENET_FILE}",
    params:
        # TORCH_HOME/hub/checkpoints/<file> -> TORCH_HOME
        torch_home=lambda wc, output: str(Path(output[0]).parents[2]),
    log:
        "results/logs/fetch_weights.log",
    conda:
        "../../envs/main.yaml"
    shell:
        "TORCH_HOME={params.torch_home} python -c 'from torchvision.models import"
        " GoogLeNet_Weights as W; W.IMAGENET1K_V1.get_state_dict(progress=False)' > {log} 2>&1"
