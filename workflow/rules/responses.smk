# Per-trial, baseline-subtracted, z-scored responses of the selected units.


rule responses:
    """Read a session's NWB file and write its per-trial responses as netCDF."""
    priority: 90
    input:
        nwb=session_nwb,
        stimuli="results/stimuli.nc",
    output:
        "results/responses/{session}.nc",
    resources:
        **CPU_RESOURCES,
    benchmark:
        bench("responses", "results/responses/{session}.nc")
    log:
        "results/logs/responses/{session}.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/responses.py"
