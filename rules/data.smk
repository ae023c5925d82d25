rule prepare_dataset:
    input:
        user_files_of,
    output:
        directory("results/data/{dataset}"),
    log:
        "logs/prepare_dataset/{dataset}.log",
    benchmark:
        "benchmarks/prepare_dataset/{dataset}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        dataset=dataset_slice,
    script:
        "../workflow_scripts/prepare_dataset.py"
