rule train_model:
    input:
        data=training_data_of,
        targets=target_model_of,
    output:
        directory("results/trained/{model}"),
    log:
        "logs/train_model/{model}.log",
    benchmark:
        "benchmarks/train_model/{model}.tsv"
    conda:
        "../envs/training.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=240,
    params:
        model=model_slice,
        targets=target_slice,
    script:
        "../workflow_scripts/train_model.py"
