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
    # One thread: on CPUs two jobs at once use two cores better than one job's two threads
    # (measured: 0.56 cores busy); a profile's set-threads gives a GPU job more.
    threads: 1
    resources:
        mem_mb=lambda wildcards: _mem_mb(extract_estimate(wildcards), 8000),
        runtime=lambda wildcards: _runtime(extract_estimate(wildcards), 120),
    params:
        model=model_identity,
        features=features_slice,
    script:
        "../workflow_scripts/extract_features.py"
