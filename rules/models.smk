rule prepare_model:
    input:
        trained=trained_checkpoint_of,
    output:
        directory("results/models/{model}"),
    log:
        "logs/prepare_model/{model}.log",
    benchmark:
        "benchmarks/prepare_model/{model}.tsv"
    conda:
        "../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        model=model_identity,
    script:
        "../workflow_scripts/prepare_model.py"
