rule extract_features:
    input:
        model="results/models/{model}",
        data="results/data/{dataset}",
    output:
        directory("results/features/{model}/{dataset}"),
    log:
        "logs/extract_features/{model}/{dataset}.log",
    benchmark:
        "benchmarks/extract_features/{model}/{dataset}.tsv"
    conda:
        "../envs/features.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        model=model_slice,
        features=features_slice,
    script:
        "../workflow_scripts/extract_features.py"
