# The trained networks (decoding.dnn.arch: EfficientNet-Lite0 in the shipped configs, GoogLeNet
# as in the paper, ResNet-18): on neural images (W @ U, built inside each job from the responses)
# within and across animals, its controls, analyses and transfer-learning variants, and on
# temporal raster images. Every training rule inherits dnn_within's threads, resources and
# script (workflow/scripts/dnn_train.py) and names its decoder (nidecode.decoders.networks);
# the job's wildcards say what it trains on.

# What every training job is given besides its decoder.
NETWORK_PARAMS = {
    "workdir": lambda wc, output: str(Path(output[0]).parent),
    "torch_home": TORCH_HOME,
    "label_names": list(LABEL_FILES),
}


rule dnn_within:
    """The network on one animal's neural images, one fold of one split."""
    priority: 10
    input:
        responses="results/responses/{session}.nc",
        stimuli="results/stimuli.nc",
        labels=list(LABEL_FILES.values()),
    output:
        "results/decode/{split}/dnn_{mode}/within/{session}/fold{fold}/metrics.json",
    params:
        decoder="network",
        **NETWORK_PARAMS,
    threads: DNN_THREADS
    resources:
        **TRAINING_RESOURCES,
    benchmark:
        bench("dnn_within", "results/decode/{split}/dnn_{mode}/within/{session}/fold{fold}/metrics.json")
    log:
        "results/logs/dnn_within/{split}/{mode}/{session}/fold{fold}.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/dnn_train.py"


use rule dnn_within as dnn_cross with:
    priority: 20
    input:
        responses=lambda wc: batch_responses(wc.batch),
        stimuli="results/stimuli.nc",
        labels=list(LABEL_FILES.values()),
    output:
        "results/decode/{split}/dnn_{mode}/cross/{batch}/metrics.json",
        "results/decode/{split}/dnn_{mode}/cross/{batch}/test_weights.nc",
    params:
        decoder="network",
        combos=lambda wc: CROSS_BATCHES[wc.batch],
        # Each combo checkpoints in its own folder, whichever batch trains it: a combo that
        # failed in a batch is retrained alone when its batch reruns, the others resume
        # from their last epoch (no training).
        workdir=lambda wc: f"results/decode/{wc.split}/dnn_{wc.mode}/cross",
        torch_home=TORCH_HOME,
        label_names=list(LABEL_FILES),
    benchmark:
        bench("dnn_cross", "results/decode/{split}/dnn_{mode}/cross/{batch}/metrics.json")
    log:
        "results/logs/dnn_cross/{split}/{mode}/{batch}.log",


use rule dnn_within as raster_within with:
    params:
        decoder="raster_network",
        **NETWORK_PARAMS,
    output:
        "results/decode/{split}/raster/within/{session}/fold{fold}/metrics.json",
    benchmark:
        bench("raster_within", "results/decode/{split}/raster/within/{session}/fold{fold}/metrics.json")
    log:
        "results/logs/raster_within/{split}/{session}/fold{fold}.log",


use rule dnn_within as dnn_control with:
    output:
        "results/decode/{split}/dnn_{mode}/control/{control}/{session}/fold{fold}/metrics.json",
    benchmark:
        bench("dnn_control", "results/decode/{split}/dnn_{mode}/control/{control}/{session}/fold{fold}/metrics.json")
    log:
        "results/logs/dnn_control/{split}/{mode}/{control}/{session}/fold{fold}.log",


use rule dnn_within as dnn_relabelling_null with:
    params:
        decoder="network",
        null="block_relabelling",
        **NETWORK_PARAMS,
    output:
        "results/decode/{split}/dnn_{mode}/relabelling_null/{session}.json",
    benchmark:
        bench("dnn_relabelling_null", "results/decode/{split}/dnn_{mode}/relabelling_null/{session}.json")
    log:
        "results/logs/dnn_relabelling_null/{split}/{mode}/{session}.log",


use rule dnn_within as dnn_analysis with:
    output:
        "results/decode/{split}/dnn_analysis/{analysis}/{session}/fold{fold}/metrics.json",
    benchmark:
        bench("dnn_analysis", "results/decode/{split}/dnn_analysis/{analysis}/{session}/fold{fold}/metrics.json")
    log:
        "results/logs/dnn_analysis/{split}/{analysis}/{session}/fold{fold}.log",


use rule dnn_within as dnn_transfer with:
    priority: 20
    output:
        "results/decode/{split}/transfer/{variant}/{mode}/{session}/fold{fold}/metrics.json",
    benchmark:
        bench("dnn_transfer", "results/decode/{split}/transfer/{variant}/{mode}/{session}/fold{fold}/metrics.json")
    log:
        "results/logs/dnn_transfer/{split}/{variant}/{mode}/{session}/fold{fold}.log",
