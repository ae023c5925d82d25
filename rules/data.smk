rule build_corpus:
    output:
        manifest="results/data/{dataset}/manifest.parquet",
        trials="results/data/{dataset}/trials.parquet",
        audio=directory("results/data/{dataset}/audio"),
    log:
        "logs/build_corpus/{dataset}.log",
    benchmark:
        "benchmarks/build_corpus/{dataset}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        dataset=dataset_slice,
    script:
        "../workflow_scripts/build_corpus.py"
