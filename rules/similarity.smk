rule layer_similarity:
    input:
        a="results/features/{model_a}/{dataset}",
        b="results/features/{model_b}/{dataset}",
    output:
        "results/similarity/{model_a}/{model_b}/{dataset}/{measure}.parquet",
    log:
        "logs/layer_similarity/{model_a}/{model_b}/{dataset}/{measure}.log",
    benchmark:
        "benchmarks/layer_similarity/{model_a}/{model_b}/{dataset}/{measure}.tsv"
    conda:
        "../envs/similarity.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        layers_a=lambda wildcards: layers_of(wildcards.model_a),
        layers_b=lambda wildcards: layers_of(wildcards.model_b),
    script:
        "../workflow_scripts/layer_similarity.py"
