# Helpers shared by the stages: target lists and the exact config slice each rule depends on.
import re
from pathlib import Path

from strata.datasets.listing import audio_files
from strata.workflow import portable
from strata.models.seeds import member_roles, seed_member
from strata.models.series import EPOCH, base_of, identity
from strata.models.twins import twin_of
from strata.plan.jobs import Planner, scheduler_caps
from strata.plan.resources import minutes
from strata.plugins import file_stem
from strata.training import shipped


wildcard_constraints:
    model="[A-Za-z][A-Za-z0-9_]*(@[es][0-9]+)?",  # a checkpoint series' member: <model>@e<epoch>
    model_a="[A-Za-z][A-Za-z0-9_]*(@[es][0-9]+)?",
    model_b="[A-Za-z][A-Za-z0-9_]*(@[es][0-9]+)?",
    dataset="[A-Za-z][A-Za-z0-9_]*",
    task="[A-Za-z][A-Za-z0-9_]*",
    layer="(?!weighted/)[A-Za-z0-9_]+",  # not the weighted-sum probe's folder
    measure="[A-Za-z0-9_.]+",  # a registered name, or an import path with . for :
    level="utterance|frame",


# The configured models (a seeded one as its members, <name>_s<seed>), each random twin right
# after its model, and their layers; the planner sizes each data-dependent job from what it
# reads (strata.plan).
PLANNER = Planner(config)
STUDY = PLANNER.study
MODELS = STUDY.models
FRAME_DATASETS = STUDY.frame_datasets
STUDY.specs  # every model's layers, read now: a config error stops the parse
# The run's caps and per-rule overrides (profiles, --resources, --set-resources) may not lower
# a planned job's memory or runtime: each job is checked as it is sized, overrides now.
PLANNER.caps = scheduler_caps(workflow.global_resources)
PLANNER.check_overrides(
    {
        name: scheduler_caps(values)
        for name, values in (
            workflow.resource_settings.overwrite_resources or {}
        ).items()
    }
)
# Trained models load from the repository's checkpoints/ (checked here) or train in this run.
SHIPPED_ROOT = Path(workflow.basedir) / shipped.DIR
SHIPPED = (
    lookup(dpath="training/checkpoints", within=config, default="train") == "shipped"
)
# The models train_model trains (a series' snapshots come from their model's training).
TRAINED = [m for m in STUDY.trained() if EPOCH not in MODELS[m]]
if SHIPPED:
    for _model in TRAINED:
        _dataset = config["datasets"][MODELS[_model]["train"]["dataset"]]
        shipped.check_shipped(SHIPPED_ROOT, _model, MODELS[_model], _dataset)
    for _model in STUDY.trained():
        if EPOCH in MODELS[_model]:
            shipped.check_snapshot(SHIPPED_ROOT, base_of(_model), MODELS[_model][EPOCH])


def task_pattern(frames, jobs):
    """The tasks whose probes read every frame (``frames``), or the others, with probe.jobs
    ``jobs``, as a wildcard pattern (one that matches nothing when there are none)."""
    tasks = [
        t
        for t in config["tasks"]
        if STUDY.reads_frames(t) == frames and STUDY.probe_jobs(t) == jobs
    ]
    return "|".join(re.escape(t) for t in tasks) or "(?!)"


def layers_at(model, level):
    return [spec.name for spec in STUDY.layers_at(model, level)]


def probe_layers_of(model, task):
    return [spec.name for spec in STUDY.probe_layers(model, task)]


def dataset_slice(wildcards):
    return config["datasets"][wildcards.dataset]


def user_files_of(wildcards):
    """A user's manifest, its trial list and the audio it lists are inputs (an edit to any
    re-imports it); the embedded corpus and the corpus recipes have none (their roots are read
    in the job).
    """
    dataset = dataset_slice(wildcards)
    if dataset["kind"] != "manifest":
        return []
    trials = [dataset["trials"]] if "trials" in dataset else []
    return [dataset["path"], *trials, *map(portable, audio_files(dataset))]


def features_slice(wildcards):
    """The features block; frames only for a dataset some job reads frame by frame.
    keep_frames is left out: it decides whether frame shards stay, not what they hold.
    """
    features = {k: v for k, v in config["features"].items() if k != "keep_frames"}
    if wildcards.dataset in FRAME_DATASETS:  # empty unless features.level is frame
        return features
    pooled = {k: v for k, v in features.items() if k != "frame_hours"}
    return {**pooled, "level": "utterance"}


def frames_output(path):
    """The frame shards' folder: kept, or (features.keep_frames: false) temporary, removed
    once every job that reads it has finished (a later job needing it re-extracts)."""
    keep = lookup(dpath="features/keep_frames", within=config, default=True)
    return directory(path) if keep else temp(directory(path))


def _features_dir(model, dataset, frames):
    return f"results/{'frames' if frames else 'features'}/{model}/{dataset}"


def probe_features_of(wildcards):
    """Frame shards for a task that reads every frame, else the pooled rows."""
    frames = STUDY.reads_frames(wildcards.task)
    return _features_dir(wildcards.model, wildcards.dataset, frames)


def features_at_level(model, wildcards):
    return _features_dir(model, wildcards.dataset, wildcards.level == "frame")


def model_slice(wildcards):
    return MODELS[wildcards.model]


def model_identity(wildcards):
    """The model's slice less which snapshots its training keeps (not another model)."""
    return identity(MODELS[wildcards.model])


def train_slice(wildcards):
    """A trained model's train block (KeyError-free for the rest: they never train)."""
    model = MODELS[wildcards.model]
    if model["init"] != "trained":
        raise ValueError(f"model {wildcards.model!r} is not init: trained")
    return model["train"]


def training_data_of(wildcards):
    return f"results/data/{train_slice(wildcards)['dataset']}"


def _target_model(wildcards):
    """The trained model whose layer a second masked-prediction iteration clusters (a seeded
    source: its member of this model's seed), or None."""
    source = train_slice(wildcards).get("targets", {}).get("source", "mfcc")
    if source == "mfcc":
        return None
    return seed_member(source, MODELS[wildcards.model]["seed"], MODELS)


def target_model_of(wildcards):
    source = _target_model(wildcards)
    return [] if source is None else f"results/models/{source}"


def target_slice(wildcards):
    source = _target_model(wildcards)
    return {} if source is None else MODELS[source]


def training_output(model):
    """Where a trained model's checkpoint, losses and summary are: shipped or trained here."""
    if SHIPPED:
        return portable(SHIPPED_ROOT / model)
    return f"results/trained/{model}"


def trained_checkpoint_of(wildcards):
    """A trained model's training output (empty for the others)."""
    if MODELS[wildcards.model]["init"] != "trained":
        return []
    return training_output(base_of(wildcards.model))


def model_roles():
    """The configured ``role`` of each model that has one, and of each of its seed members (for
    the report only)."""
    return member_roles(config["models"])


def model_controls():
    """Each model's random-init control (itself where it has none)."""
    return {model: twin_of(model, MODELS) for model in MODELS}


def task_slice(wildcards):
    """The task's config, less its probe overrides (those are in probe_slice)."""
    task = config["tasks"][wildcards.task]
    return {key: value for key, value in task.items() if key != "probe"}


def probe_slice(wildcards):
    """The probe block with the task's own overrides applied."""
    return STUDY.probe_settings(wildcards.task)


def probe_files(model, task, name):
    """One file (metrics.json, test_units.parquet) of each of a model's probes of a task:
    every layer's, then the weighted sum's."""
    dataset = config["tasks"][task]["dataset"]
    return [
        f"results/probes/{model}/{dataset}/{task}/{layer}/{name}"
        for layer in [*probe_layers_of(model, task), "weighted"]
    ]


def probe_outputs_of(model, task):
    """What the jobs behind a model's probes of a task write: their folder (probe.jobs: model)
    or each probe's metrics and per-unit outcomes (probe.jobs: layer)."""
    if STUDY.probe_jobs(task) == "model":
        dataset = config["tasks"][task]["dataset"]
        return [f"results/probes/{model}/{dataset}/{task}"]
    return [
        *probe_files(model, task, "metrics.json"),
        *probe_files(model, task, "test_units.parquet"),
    ]


def probe_outputs_of_task(wildcards):
    return [p for model in MODELS for p in probe_outputs_of(model, wildcards.task)]


def probe_metrics_of_task(wildcards):
    """Every (model, layer) metrics file of one task, each model's weighted sum after it."""
    return [
        p
        for model in MODELS
        for p in probe_files(model, wildcards.task, "metrics.json")
    ]


def probe_summaries():
    return {
        task: f"results/probes/summary/{spec['dataset']}/{task}.parquet"
        for task, spec in config["tasks"].items()
    }


def probe_outputs():
    """Every probe job's output (the report reads their files)."""
    return [
        p for task in config["tasks"] for m in MODELS for p in probe_outputs_of(m, task)
    ]


def probe_units():
    """Every probe's per-unit test outcomes (the report's paired comparisons)."""
    return [
        p
        for task in config["tasks"]
        for m in MODELS
        for p in probe_files(m, task, "test_units.parquet")
    ]


def resampling_slice():
    """The probe block's bootstrap settings, which the report's paired comparisons reuse."""
    return {key: config["probe"][key] for key in ("confidence", "seed")} | {
        "resamples": config["probe"]["bootstrap"]
    }


def weighted_probes():
    """Every model's weighted-sum metrics for every task (the report's usage bars)."""
    return [
        f"results/probes/{model}/{spec['dataset']}/{task}/weighted/metrics.json"
        for task, spec in config["tasks"].items()
        for model in MODELS
    ]


def similarity_tables():
    """Every (pair, level, measure) table; the frame level only for pairs with frame layers."""
    dataset = config["similarity"]["dataset"]
    return [
        f"results/similarity/{a}/{b}/{dataset}/{level}/{file_stem(measure)}.parquet"
        for a, b, level, measure in STUDY.similarity_jobs()
    ]


# File stem → the configured measure (a registered name, or your own by import path).
MEASURE_OF = {file_stem(m): m for m in config["similarity"]["measures"]}
if len(MEASURE_OF) != len(config["similarity"]["measures"]):
    raise ValueError("similarity.measures: two measures share a file name (. for :)")


def similarity_gpus(wildcards):
    """One GPU for a job whose measure computes on one (Properties.gpu), unless
    similarity.device is cpu; none for the others (a profile's GPU partition runs them too).
    """
    from strata.similarity.measures import get_measure

    device = lookup(dpath="similarity/device", within=config, default="auto")
    measure = get_measure(MEASURE_OF[wildcards.measure])
    return int(measure.properties.gpu and device != "cpu")


def frames_slice(wildcards):
    """Frame sampling matters to frame-level jobs only."""
    return config["similarity"]["frames"] if wildcards.level == "frame" else {}


def training_runs():
    return [training_output(m) for m in TRAINED]


def model_cards():
    return [f"results/models/{model}" for model in MODELS]


def _estimate(rule, job, estimate):
    """A job's estimate, checked against limits.mem_mb (the error names the job)."""
    PLANNER.check(rule, job, estimate)
    return estimate


def _mem_mb(estimate, default):
    return default if estimate is None else estimate.mem_mb


def _runtime(estimate, default):
    return default if estimate is None else minutes(estimate.seconds)


def extract_estimate(wildcards):
    job = f"{wildcards.model}/{wildcards.dataset}"
    return _estimate(
        "extract_features", job, PLANNER.extract(wildcards.model, wildcards.dataset)
    )


def probe_estimate(wildcards):
    job = f"{wildcards.model}/{wildcards.task}/{wildcards.layer}"
    estimate = PLANNER.probe(wildcards.model, wildcards.task, [wildcards.layer])
    return _estimate(STUDY.probe_rule(wildcards.task), job, estimate)


def probe_set_estimate(wildcards):
    estimate = PLANNER.probe_set(wildcards.model, wildcards.task)
    job = f"{wildcards.model}/{wildcards.task}"
    return _estimate(STUDY.probe_rule(wildcards.task), job, estimate)


def weighted_estimate(wildcards):
    layers = probe_layers_of(wildcards.model, wildcards.task)
    estimate = PLANNER.probe(wildcards.model, wildcards.task, layers)
    name = STUDY.probe_rule(wildcards.task, weighted=True)
    return _estimate(name, f"{wildcards.model}/{wildcards.task}", estimate)


def similarity_estimate(wildcards):
    job = "/".join(
        [wildcards.model_a, wildcards.model_b, wildcards.level, wildcards.measure]
    )
    estimate = PLANNER.similarity(wildcards.model_a, wildcards.model_b, wildcards.level)
    return _estimate("layer_similarity", job, estimate)
