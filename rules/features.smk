rule extract_features:
    input:
        model="results/models/{model}",
        data="results/data/{dataset}",
    output:
        features=directory("results/features/{model}/{dataset}"),
        frames=frames_output("results/frames/{model}/{dataset}"),
    log:
        "logs/extract_features/{model}/{dataset}.log",
    benchmark:
        "benchmarks/extract_features/{model}/{dataset}.tsv"
    conda:
        "../envs/features.yaml"
    threads: 2
    resources:
        mem_mb=lambda wildcards: _mem_mb(extract_estimate(wildcards), 8000),
        runtime=lambda wildcards: _runtime(extract_estimate(wildcards), 120),
    params:
        model=model_slice,
        features=features_slice,
    script:
        "../workflow_scripts/extract_features.py"
