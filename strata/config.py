"""Config validation with errors that name the offending key, plus cross-reference checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from strata.models.registry import FAMILIES


class ConfigError(ValueError):
    """A config problem, with the dotted key path in the message."""


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<root>"


def validate_config(config: dict[str, Any], schema_path: str | Path) -> None:
    """Validate against the JSON schema, then check names that refer to other sections."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.path), list(e.path)))
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        key = _key(error.path)
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            key = _key([*error.path, extra[0]]) if extra else key
            raise ConfigError(f"config key {key!r} is not allowed (unknown key)")
        raise ConfigError(f"config key {key!r}: {error.message}")
    check_references(config)


def check_references(config: dict[str, Any]) -> None:
    """Names that must exist elsewhere in the config (schema cannot express these)."""
    datasets, models = config["datasets"], config["models"]
    for name, model in models.items():
        if model["family"] not in FAMILIES:
            raise ConfigError(f"config key 'models.{name}.family': unknown {model['family']!r}")
        if (
            model["init"] == "pretrained"
            and model["family"] != "resemblyzer"
            and "path" not in model
        ):
            raise ConfigError(f"config key 'models.{name}.path' is required for init: pretrained")
        if (
            model["init"] == "random"
            and model["family"] == "hf_transformers"
            and "arch" not in model
        ):
            raise ConfigError(f"config key 'models.{name}.arch' is required for init: random")
    for name, task in config["tasks"].items():
        if task["dataset"] not in datasets:
            raise ConfigError(f"config key 'tasks.{name}.dataset': unknown {task['dataset']!r}")
    if config["similarity"]["dataset"] not in datasets:
        raise ConfigError("config key 'similarity.dataset': not in datasets")
    pairs = config["similarity"]["pairs"]
    for i, pair in enumerate([] if pairs == "all" else pairs):
        for model in pair:
            if model not in models:
                raise ConfigError(f"config key 'similarity.pairs.{i}': unknown model {model!r}")
