# Session NWB files: simulated (embedded default), downloaded from the Allen Institute (AllenSDK)
# or from the DANDI archive (dandiset 000021). Own files (source nwb) need no rule.

localrules:
    download_session,
    download_dandi,
    download_scene_templates,
    fetch_weights,


rule simulate_session:
    """Simulate one animal and write it as an NWB file in Allen's layout."""
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


rule fetch_weights:
    """Fill TORCH_HOME's cache with GoogLeNet's ImageNet weights (needs internet)."""
    output:
        f"{TORCH_HOME}/hub/checkpoints/{GOOGLENET_IMAGENET_FILE}",
    params:
        # TORCH_HOME/hub/checkpoints/<file> -> TORCH_HOME
        torch_home=lambda wc, output: str(Path(output[0]).parents[2]),
    benchmark:
        bench("fetch_weights", "results/fetch_weights.pth")
    log:
        "results/logs/fetch_weights.log",
    conda:
        "../../envs/main.yaml"
    shell:
        "TORCH_HOME={params.torch_home} python -c 'from torchvision.models import"
        " GoogLeNet_Weights as W; W.IMAGENET1K_V1.get_state_dict(progress=False)' > {log} 2>&1"
