localrules:
    report,


rule report:
    input:
        probe_tables=list(probe_summaries().values()),
        weighted=weighted_probes(),
        similarity=similarity_tables(),
        models=model_cards(),
        data=f"results/data/{config['similarity']['dataset']}",
    output:
        html="results/report/index.html",
        figures=directory("results/report/figures"),
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
    script:
        "../workflow_scripts/make_report.py"
