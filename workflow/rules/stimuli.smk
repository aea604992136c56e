# The unique stimulus images (static gratings and natural scenes) on Allen's screen geometry.


rule render_stimuli:
    """Render the 120 static gratings and 118 natural scenes into results/stimuli.nc."""
    input:
        templates=(
            ["resources/allen/natural_scene_templates.npz"] if ALLEN_SCENES else []
        ),
    priority: 100
    output:
        "results/stimuli.nc",
    resources:
        **CPU_RESOURCES,
    benchmark:
        bench("render_stimuli", "results/stimuli.nc")
    log:
        "results/logs/render_stimuli.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/render_stimuli.py"
