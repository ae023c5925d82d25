# `snakemake --report` shows strata's own page and every figure, each filed by what its name
# says (strata/report/snakemake_report.py).
from strata.report.snakemake_report import (
    figure_category,
    figure_labels,
    figure_patterns,
    figure_subcategory,
)


localrules:
    report,


rule report:
    input:
        probe_tables=list(probe_summaries().values()),
        probes=probe_outputs(),
        similarity=similarity_tables(),
        models=model_cards(),
        training=training_runs(),
        data=f"results/data/{config['similarity']['dataset']}",
    output:
        html=report(
            "results/report/index.html",
            caption="../docs/report/strata_report.rst",
            category="Overview",
            subcategory="strata report",
            labels={"page": "results/report/index.html"},
        ),
        verdicts=report(
            "results/report/verdicts.csv",
            caption="../docs/report/verdicts.rst",
            category="Overview",
            subcategory="Tables",
            labels={"page": "results/report/verdicts.csv"},
        ),
        best_layers=report(
            "results/report/best_layers.csv",
            caption="../docs/report/best_layers.rst",
            category="Overview",
            subcategory="Tables",
            labels={"page": "results/report/best_layers.csv"},
        ),
        dynamics=report(
            "results/report/dynamics.csv",
            caption="../docs/report/dynamics.rst",
            category="Overview",
            subcategory="Tables",
            labels={"page": "results/report/dynamics.csv"},
        ),
        dynamics_similarity="results/report/dynamics_similarity.csv",
        dynamics_claims="results/report/dynamics_claims.csv",
        figures=report(
            directory("results/report/figures"),
            patterns=figure_patterns(config["similarity"]["levels"], list(MEASURE_OF)),
            caption="../docs/report/figures.rst",
            category=figure_category,
            subcategory=figure_subcategory,
            labels=figure_labels,
        ),
    log:
        "logs/report/report.log",
    benchmark:
        "benchmarks/report/report.tsv"
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        report=config["report"],
        tasks=list(probe_summaries()),
        task_specs=config["tasks"],
        controls=model_controls(),
        roles=model_roles(),
        families=STUDY.families,
        resampling=resampling_slice(),
        weighted=weighted_probes(),
        units=probe_units(),
        series=STUDY.series,
    script:
        "../workflow_scripts/make_report.py"
