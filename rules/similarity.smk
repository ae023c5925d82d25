rule layer_similarity:
    input:
        a=lambda wildcards: features_at_level(wildcards.model_a, wildcards),
        b=lambda wildcards: features_at_level(wildcards.model_b, wildcards),
    output:
        report(
            "results/similarity/{model_a}/{model_b}/{dataset}/{level}/{measure}.parquet",
            caption="../docs/report/similarity_table.rst",
            category="Similarity",
            subcategory="Tables",
            labels={
                "level": "{level}",
                "measure": "{measure}",
                "model A": "{model_a}",
                "model B": "{model_b}",
            },
        ),
    log:
        "logs/layer_similarity/{model_a}/{model_b}/{dataset}/{level}/{measure}.log",
    benchmark:
        "benchmarks/layer_similarity/{model_a}/{model_b}/{dataset}/{level}/{measure}.tsv"
    conda:
        "../envs/similarity.yaml"
    # As extract_features: two one-thread jobs keep two cores busy.
    threads: 1
    resources:
        mem_mb=lambda wildcards: _mem_mb(similarity_estimate(wildcards), 4000),
        runtime=lambda wildcards: _runtime(similarity_estimate(wildcards), 60),
        gpu=similarity_gpus,
    params:
        layers_a=lambda wildcards: layers_at(wildcards.model_a, wildcards.level),
        layers_b=lambda wildcards: layers_at(wildcards.model_b, wildcards.level),
        controls=config["similarity"]["controls"],
        measure=lambda wildcards: MEASURE_OF[wildcards.measure],
        frames=frames_slice,
        device=lookup(dpath="similarity/device", within=config, default="auto"),
    script:
        "../workflow_scripts/layer_similarity.py"
