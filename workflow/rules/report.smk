# Aggregation, figures and the HTML report (snakemake --report results/report.html).


rule aggregate:
    """One row per decoding job."""
    input:
        metrics=decode_metrics(),
        benchmarks=job_benchmarks(),
    output:
        summary=report("results/summary.csv", category="Tables",
                       caption="../report/summary.rst"),
        folds=report("results/summary_folds.csv", category="Tables",
                     caption="../report/summary_folds.rst"),
        groups=report("results/group_tests.csv", category="Tables",
                      caption="../report/group_tests.rst"),
        drift_groups=report("results/group_tests_drift_control.csv", category="Tables",
                            caption="../report/group_tests_drift_control.rst"),
        benchmarks=report("results/benchmarks.csv", category="Tables",
                          caption="../report/benchmarks.rst"),
        retention=report("results/retention.csv", category="Tables",
                         caption="../report/retention.rst"),
    resources:
        **CPU_RESOURCES,
    benchmark:
        bench("aggregate", "results/summary.csv")
    log:
        "results/logs/aggregate.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/aggregate.py"


rule figures:
    """The paper's figures from the results."""
    input:
        summary="results/summary.csv",
        benchmarks="results/benchmarks.csv",
        responses=f"results/responses/{FIGURE_SESSION}.nc",
        stimuli="results/stimuli.nc",
        cross=expand("results/decode/{split}/dnn_{mode}/cross/{batch}/test_weights.nc",
                     split=SPLIT, mode=PS_MODES, batch=list(CROSS_BATCHES)),
    output:
        **{name: report(f"results/figures/{name}.png", category="Figures",
                        caption=f"../report/{name}.rst") for name in FIGURES},
    params:
        mode=PS_MODES[0],
    resources:
        **CPU_RESOURCES,
    benchmark:
        bench("figures", "results/figures.png")
    log:
        "results/logs/figures.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/figures.py"


rule front_page:
    """The report's landing text, generated from the run's tables (never written by hand)."""
    input:
        summary="results/summary.csv",
        groups="results/group_tests.csv",
        drift_groups="results/group_tests_drift_control.csv",
    output:
        FRONT_PAGE,
    resources:
        **CPU_RESOURCES,
    benchmark:
        bench("front_page", "results/front_page.rst")
    log:
        "results/logs/front_page.log",
    conda:
        "../../envs/main.yaml"
    script:
        "../scripts/front_page.py"
