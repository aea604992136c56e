# Session NWB files: simulated (embedded default), downloaded from the Allen Institute (AllenSDK)
# or from the DANDI archive (dandiset 000021). Own files (source nwb) need no rule.

localrules:
    download_session,
    download_dandi,
    download_scene_templates,
    fetch_weights,
    fetch_backbone_weights,


rule simulate_session:
    """Simulate one animal and write it as an NWB file in Allen's layout."""
    # Scheduling: the data first (everything waits on it), then the longest training jobs, so
    # that short jobs fill the cores at the end (snakemake runs higher priorities first).
    priority: 100
    output:
        "resources/simulated/{session}.nwb",
    resources:
        **CPU_RESOURCES,
    benchmark:
        bench("simulate_session", "resources/simulated/{session}.nwb")
    log:
        "results/logs/simulate_session/{session}.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/simulate_session.py"


rule download_session:
    """Download one Allen session NWB with AllenSDK (own environment; needs internet)."""
    output:
        "resources/allen/sessions/{session}.nwb",
    params:
        python=config["allen"]["python"],
        session_id=lambda wc: config["allen"]["session_ids"][wc.session],
        cache_dir=config["allen"]["cache_dir"],
        script=f"{workflow.basedir}/workflow/scripts/download_allen.py",
    benchmark:
        bench("download_session", "resources/allen/sessions/{session}.nwb")
    log:
        "results/logs/download_session/{session}.log",
    conda:
        "../../envs/allensdk.yaml"
    shell:
        "{params.python} {params.script} session"
        " --session-id {params.session_id} --cache-dir {params.cache_dir} --out {output}"
        " > {log} 2>&1"


rule download_dandi:
    """Download one Allen session NWB from the DANDI archive (dandi client; needs internet).

    The file is sub-<subject>/sub-<subject>_ses-<session id>.nwb of dandi.dandiset; without
    dandi.subjects.<session> the rule finds it by listing the dandiset's *_ses-<id>.nwb assets.
    """
    output:
        DANDI_SESSION_FILE,
    params:
        dandiset=config["dandi"]["dandiset"],
        version=config["dandi"]["version"],
        session_id=lambda wc: config["dandi"]["session_ids"][wc.session],
        subject=lambda wc: config["dandi"]["subjects"].get(wc.session),
    benchmark:
        bench("download_dandi", DANDI_SESSION_FILE)
    log:
        "results/logs/download_dandi/{session}.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/download_dandi.py"


rule download_scene_templates:
    """Download Allen's 118 natural-scene templates with AllenSDK (needs internet)."""
    output:
        "resources/allen/natural_scene_templates.npz",
    params:
        python=config["allen"]["python"],
        cache_dir=config["allen"]["cache_dir"],
        script=f"{workflow.basedir}/workflow/scripts/download_allen.py",
    benchmark:
        bench("download_scene_templates", "resources/allen/natural_scene_templates.npz")
    log:
        "results/logs/download_scene_templates.log",
    conda:
        "../../envs/allensdk.yaml"
    shell:
        "{params.python} {params.script} scene-templates"
        " --cache-dir {params.cache_dir} --out {output} > {log} 2>&1"


# Backbones whose ImageNet weights torchvision serves, by their file's name in TORCH_HOME's cache
# (workflow/nidecode/decoders/backbones.py); EfficientNet-Lite0's come with its pip package.
from nidecode.decoders.backbones import torchvision_weights

TORCHVISION_WEIGHTS = torchvision_weights()


rule fetch_weights:
    """Fill TORCH_HOME's cache with the ImageNet weights of every backbone torchvision serves
    (GoogLeNet, ResNet-18; needs internet). One backbone's: its file as the target."""
    input:
        [f"{TORCH_HOME}/hub/checkpoints/{file}" for file in TORCHVISION_WEIGHTS],


rule fetch_backbone_weights:
    """Download one backbone's ImageNet weights into TORCH_HOME's cache, checking the SHA-256
    its record knows (needs internet)."""
    output:
        f"{TORCH_HOME}/hub/checkpoints/{{weights_file}}",
    wildcard_constraints:
        weights_file="|".join(re.escape(file) for file in TORCHVISION_WEIGHTS),
    params:
        # TORCH_HOME/hub/checkpoints/<file> -> TORCH_HOME
        torch_home=lambda wc, output: str(Path(output[0]).parents[2]),
        arch=lambda wc: TORCHVISION_WEIGHTS[wc.weights_file].name,
    benchmark:
        bench("fetch_backbone_weights", "{weights_file}")
    log:
        "results/logs/fetch_backbone_weights/{weights_file}.log",
    conda:
        "../../envs/main.yaml"
    shell:
        "TORCH_HOME={params.torch_home} python -m nidecode.decoders.backbones fetch"
        " {params.arch} > {log} 2>&1"
