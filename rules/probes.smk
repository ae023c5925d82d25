# Frame-level tasks' probes (CTC: hours each at scale, on a GPU when there is one) and the
# utterance-level tasks' (minutes, CPUs, grouped) are separate rules with the same code and
# outputs, so a profile can send the first to a GPU partition. Each probe also writes its
# per-unit test outcomes (test_units.parquet), for paired comparisons between probes.
# probe.jobs: model (the default) runs a model's every probe of a task in one job, its folder
# holding each layer's files and the weighted sum's; probe.jobs: layer, one job per probe.
rule train_frame_probes:
    input:
        features=probe_features_of,
        data="results/data/{dataset}",
    output:
        directory("results/probes/{model}/{dataset}/{task}"),
    log:
        "logs/train_frame_probes/{model}/{dataset}/{task}.log",
    benchmark:
        "benchmarks/train_frame_probes/{model}/{dataset}/{task}.tsv"
    wildcard_constraints:
        task=task_pattern(frames=True, jobs="model"),
    # The longest jobs of a run: started first, they do not end it alone.
    priority: 1
    conda:
        "../envs/probes.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards: _mem_mb(probe_set_estimate(wildcards), 4000),
        runtime=lambda wildcards: _runtime(probe_set_estimate(wildcards), 120),
    params:
        task=task_slice,
        probe=probe_slice,
        layers=lambda wildcards: probe_layers_of(wildcards.model, wildcards.task),
    script:
        "../workflow_scripts/train_probes.py"


use rule train_frame_probes as train_probes with:
    log:
        "logs/train_probes/{model}/{dataset}/{task}.log",
    benchmark:
        "benchmarks/train_probes/{model}/{dataset}/{task}.tsv"
    wildcard_constraints:
        task=task_pattern(frames=False, jobs="model"),
    priority: 0
    group:
        "probes"


rule train_frame_probe:
    input:
        features=probe_features_of,
        data="results/data/{dataset}",
    output:
        metrics="results/probes/{model}/{dataset}/{task}/{layer}/metrics.json",
        checkpoint="results/probes/{model}/{dataset}/{task}/{layer}/probe.safetensors",
        units="results/probes/{model}/{dataset}/{task}/{layer}/test_units.parquet",
    log:
        "logs/train_frame_probe/{model}/{dataset}/{task}/{layer}.log",
    benchmark:
        "benchmarks/train_frame_probe/{model}/{dataset}/{task}/{layer}.tsv"
    wildcard_constraints:
        task=task_pattern(frames=True, jobs="layer"),
    conda:
        "../envs/probes.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards: _mem_mb(probe_estimate(wildcards), 2000),
        runtime=lambda wildcards: _runtime(probe_estimate(wildcards), 30),
    params:
        task=task_slice,
        probe=probe_slice,
    script:
        "../workflow_scripts/train_probe.py"


rule train_frame_weighted_probe:
    input:
        features=probe_features_of,
        data="results/data/{dataset}",
    output:
        metrics="results/probes/{model}/{dataset}/{task}/weighted/metrics.json",
        checkpoint="results/probes/{model}/{dataset}/{task}/weighted/probe.safetensors",
        units="results/probes/{model}/{dataset}/{task}/weighted/test_units.parquet",
    log:
        "logs/train_frame_weighted_probe/{model}/{dataset}/{task}.log",
    benchmark:
        "benchmarks/train_frame_weighted_probe/{model}/{dataset}/{task}.tsv"
    wildcard_constraints:
        task=task_pattern(frames=True, jobs="layer"),
    # The longest jobs of a run: started first, they do not end it alone.
    priority: 1
    conda:
        "../envs/probes.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards: _mem_mb(weighted_estimate(wildcards), 4000),
        runtime=lambda wildcards: _runtime(weighted_estimate(wildcards), 60),
    params:
        task=task_slice,
        probe=probe_slice,
        layers=lambda wildcards: probe_layers_of(wildcards.model, wildcards.task),
    script:
        "../workflow_scripts/train_probe.py"


use rule train_frame_probe as train_probe with:
    log:
        "logs/train_probe/{model}/{dataset}/{task}/{layer}.log",
    benchmark:
        "benchmarks/train_probe/{model}/{dataset}/{task}/{layer}.tsv"
    wildcard_constraints:
        task=task_pattern(frames=False, jobs="layer"),
    priority: 0
    group:
        "probes"


use rule train_frame_weighted_probe as train_weighted_probe with:
    log:
        "logs/train_weighted_probe/{model}/{dataset}/{task}.log",
    benchmark:
        "benchmarks/train_weighted_probe/{model}/{dataset}/{task}.tsv"
    wildcard_constraints:
        task=task_pattern(frames=False, jobs="layer"),
    priority: 0
    group:
        "probes"


localrules:
    summarise_probes,


rule summarise_probes:
    input:
        probe_outputs_of_task,
    output:
        table="results/probes/summary/{dataset}/{task}.parquet",
        csv=report(
            "results/probes/summary/{dataset}/{task}.csv",
            caption="../docs/report/probe_table.rst",
            category="Probes",
            subcategory="Tables",
            labels={"task": "{task}"},
        ),
    log:
        "logs/summarise_probes/{dataset}/{task}.log",
    benchmark:
        "benchmarks/summarise_probes/{dataset}/{task}.tsv"
    conda:
        "../envs/probes.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        metrics=probe_metrics_of_task,
    script:
        "../workflow_scripts/summarise_probes.py"
