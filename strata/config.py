"""The one source of truth for what a config may say.

``schemas/config.schema.yaml`` defines every key's type, bounds and allowed values, once.
:data:`CROSS_FIELD_RULES` are the rules no single key can state (a task's dataset must exist, a
corpus must have texts for every split, ...); each is the check the consuming code itself runs,
so a config that passes here cannot fail later for a config reason. The Snakefile runs both at
parse time; the package checks the slice it consumes against the same schema definition
(:func:`check_schema`). Light on purpose: no torch, no pandas (Snakefile parse time).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# The schema and its errors live in strata.schema, below every module that raises them; they
# are re-exported here for callers of the whole config's checks.
from strata.schema import (  # noqa: F401
    SCHEMA_PATH,
    ConfigError,
    check_against,
    check_schema,
    fill_defaults,
    join_key,
    load_schema,
    replaced_keys,
)

# --- cross-field rules: each takes the whole (schema-valid) config and raises ConfigError ---


def dataset_references(config: Mapping[str, Any]) -> None:
    """Tasks and similarity name datasets that exist."""
    for name, task in config["tasks"].items():
        if task["dataset"] not in config["datasets"]:
            raise ConfigError(
                f"tasks.{name}.dataset",
                f"unknown dataset {task['dataset']!r}; known: {sorted(config['datasets'])}",
            )
    if config["similarity"]["dataset"] not in config["datasets"]:
        raise ConfigError("similarity.dataset", "not in datasets")


def model_references(config: Mapping[str, Any]) -> None:
    """Seed members and twins have free names; similarity pairs name models that exist (a
    seeded model by its configured name stands for its members, seed by seed)."""
    from strata.models.seeds import expand_models, families, pair_members, with_seeds
    from strata.models.twins import SUFFIX

    seeded = with_seeds(config["models"])  # a member named like a configured model raises
    for name, members in families(config["models"]).items():
        taken = [m + SUFFIX for m in members if m + SUFFIX in seeded]
        if "random_twin" in config["models"][name] and taken:
            raise ConfigError(f"models.{name}.random_twin", f"{taken[0]!r} is taken")
    models = expand_models(config["models"])
    pairs = config["similarity"]["pairs"]
    for i, pair in enumerate([] if pairs == "all" else pairs):
        try:
            expanded = pair_members(*pair, config["models"])
        except ValueError as err:
            raise ConfigError(f"similarity.pairs.{i}", str(err)) from None
        for model in (m for members in expanded for m in members):
            if model not in models:
                raise ConfigError(f"similarity.pairs.{i}", f"unknown model {model!r}")


def training_sources(config: Mapping[str, Any]) -> None:
    """A trained model's dataset exists; a second masked-prediction iteration clusters a layer
    the source model has, and that source is another masked-prediction model (a seeded one's
    member of the same seed)."""
    from strata.models.seeds import families, with_seeds

    models = with_seeds(config["models"])
    for name, members in families(config["models"]).items():
        for member in members:
            _check_training_source(config, name, member, models)


def _check_training_source(
    config: Mapping[str, Any], name: str, member: str, models: Mapping[str, Any]
) -> None:
    from strata.models.registry import layer_specs
    from strata.models.seeds import seed_member

    model = models[member]
    train = model.get("train")
    if train is None:
        return
    if train["dataset"] not in config["datasets"]:
        known = sorted(config["datasets"])
        raise ConfigError(f"models.{name}.train.dataset", f"not in datasets: {known}")
    late = [e for e in train.get("snapshots", []) if e > train["epochs"]]
    if late:
        raise ConfigError(
            f"models.{name}.train.snapshots", f"{late} after the last epoch ({train['epochs']})"
        )
    targets = train.get("targets", {})
    source = targets.get("source", "mfcc")
    key = f"models.{name}.train.targets"
    if source == "mfcc":
        if "layer" in targets:
            raise ConfigError(f"{key}.layer", "is for a model source")
        return
    try:
        source = seed_member(source, model["seed"], models)
    except KeyError:
        seeds = config["models"].get(source, {}).get("seeds")
        if seeds is not None:
            raise ConfigError(
                f"{key}.source", f"{source} has no seed {model['seed']} (seeds {seeds})"
            ) from None
    other = models.get(source, {})
    if source == member or other.get("train", {}).get("objective") != "masked_prediction":
        raise ConfigError(f"{key}.source", "mfcc or another masked_prediction model")
    layers = [spec.name for spec in layer_specs(other)]
    if targets.get("layer") not in layers:
        raise ConfigError(f"{key}.layer", f"{source} has layers {layers}")


def model_architectures(config: Mapping[str, Any]) -> None:
    """Each model's family accepts its config as a buildable architecture."""
    from strata.models.registry import get_family
    from strata.models.series import base_of, with_series

    # A series' checkpoints are checked one by one (each file of a user's series).
    for member, model in with_series(config["models"]).items():
        name = base_of(member)
        family = get_family(model["family"])
        try:
            family_config(family, model)
            family.check_config(model)
        except ConfigError as err:
            raise err.under(f"models.{name}") from None


def family_config(family: Any, model: Mapping[str, Any]) -> None:
    """A model's ``config:`` holds only keys its family declares (``ModelFamily.config_schema``),
    for families named by import path as much as the built-in ones."""
    if "config" not in model:
        return
    schema = family.config_schema_for(dict(model))
    if schema is None:
        raise ConfigError(
            "config",
            f"family {model['family']} takes no config: keys (it declares no "
            "ModelFamily.config_schema); remove config:",
        )
    check_against(model["config"], schema, "config")


def embedded_corpora(config: Mapping[str, Any]) -> None:
    """Each embedded corpus can be planned: texts for every split, trials, known words."""
    from strata.corpus.plan import plan_from_config

    for name, dataset in config["datasets"].items():
        if dataset["kind"] == "embedded":
            try:
                plan_from_config(dataset)
            except ConfigError as err:
                raise err.under(f"datasets.{name}") from None


def task_labels(config: Mapping[str, Any]) -> None:
    """Each task's label is a column of its dataset; on a planned corpus, a learnable one."""
    for name, task in config["tasks"].items():
        try:
            _check_task_labels(task, config["datasets"][task["dataset"]])
        except ConfigError as err:
            raise err.under(f"tasks.{name}") from None
        except ValueError as err:
            raise ConfigError(f"tasks.{name}.label", str(err)) from None


def _check_task_labels(task: Mapping[str, Any], dataset: Mapping[str, Any]) -> None:
    from strata.corpus.plan import plan_from_config
    from strata.datasets.registry import dataset_kind
    from strata.probes.kinds import TASK_KINDS

    kind, recipe = TASK_KINDS[task["kind"]], dataset_kind(dataset["kind"])
    split = task.get("split", "split")
    if dataset["kind"] == "embedded":
        plan = plan_from_config(dataset)
        if split not in plan.split_columns():
            raise ConfigError("split", f"not a split column: {sorted(plan.split_columns())}")
        where = task.get("where", {})
        labels = plan.labels(split, where)
        if where and not next(iter(labels.values()), None):
            raise ConfigError("where", f"{where} selects no utterance")
        kind.check(labels, plan.trial_count(where), task)
        return
    for column in task.get("where", {}):
        if recipe.labels is None:
            _check_manifest_column(dataset["path"], column, "where")
        elif column not in (*recipe.labels, "split"):
            raise ConfigError("where", f"{column!r} not a column of {dataset['kind']}")
    if split != "split" and recipe.labels is not None:
        raise ConfigError("split", f"a {dataset['kind']} dataset has one split column, 'split'")
    if split != "split":
        _check_manifest_column(dataset["path"], split, "split")
    has_trials = recipe.trials if recipe.trials is not None else "trials" in dataset
    if kind.has_trials and not has_trials:
        raise ConfigError("dataset", f"a {dataset['kind']} dataset has no verification trials")
    label = kind.checked_label(task)
    if label is None:
        return
    if recipe.labels is None:
        _check_manifest_column(dataset["path"], label)
    elif label not in recipe.labels:
        raise ConfigError("label", f"not a label of {dataset['kind']}: {list(recipe.labels)}")


def frame_readers_need_frames(config: Mapping[str, Any]) -> None:
    """A task that reads every frame (phoneme recognition) and frame-level similarity need
    frame-level extraction."""
    from strata.probes.kinds import TASK_KINDS

    if config["features"]["level"] == "frame":
        return
    for name, task in config["tasks"].items():
        if TASK_KINDS[task["kind"]].frames:
            raise ConfigError(
                "features.level", f"must be 'frame': task {name!r} ({task['kind']}) reads frames"
            )
    if "frame" in config["similarity"]["levels"]:
        raise ConfigError("features.level", "must be 'frame': similarity.levels has frame")


def frame_datasets(config: Mapping[str, Any]) -> set[str]:
    """The datasets some job reads frame by frame: each frame-level task's, and the similarity
    dataset when similarity compares frames. Only these get frame shards (frames of a large
    corpus no job reads would cost terabytes)."""
    from strata.probes.kinds import TASK_KINDS

    if config["features"]["level"] != "frame":
        return set()
    needed = {t["dataset"] for t in config["tasks"].values() if TASK_KINDS[t["kind"]].frames}
    if "frame" in config["similarity"]["levels"]:
        needed.add(config["similarity"]["dataset"])
    return needed


def _check_manifest_column(path: str, label: str, key: str = "label") -> None:
    """A user table's header names ``label`` (the rows are checked when it is imported);
    else a ConfigError on the task's ``key``."""
    source = Path(path).expanduser()
    if not source.is_file():
        return  # prepare_dataset names the missing file; nothing else here can be checked
    if source.suffix == ".parquet":
        import pyarrow.parquet as pq

        columns = pq.read_schema(source).names
    else:
        with source.open(newline="") as f:
            columns = next(csv.reader(f, delimiter="\t" if source.suffix == ".tsv" else ","), [])
    if label not in columns:
        raise ConfigError(key, f"{label!r} is not a column of {source} (columns: {columns})")


CROSS_FIELD_RULES: tuple[Callable[[Mapping[str, Any]], None], ...] = (
    dataset_references,
    model_references,
    training_sources,
    model_architectures,
    embedded_corpora,
    task_labels,
    frame_readers_need_frames,
)


def validate_config(config: dict[str, Any]) -> None:
    """Keys an earlier release used (all at once, each with what replaced it), the schema's
    defaults filled in place, the schema, then every cross-field rule; the first problem
    raises, naming its key."""
    replaced = replaced_keys(config)
    if replaced:
        raise ConfigError(
            replaced[0].key,
            "\n".join(
                [replaced[0].message] + [f"config key {e.key!r}: {e.message}" for e in replaced[1:]]
            ),
        )
    fill_defaults(config)
    check_schema(config)
    for rule in CROSS_FIELD_RULES:
        rule(config)
