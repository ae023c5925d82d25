"""The config schema and its errors: what every module checking a config slice needs, with
nothing of the cross-field rules above it (:mod:`strata.config`), so any module may import it.

``schemas/config.schema.yaml`` defines every key's type, bounds and allowed values, once;
:func:`check_schema` checks a whole config or one slice against it, and :class:`ConfigError`
names the dotted key a problem is about. Light on purpose (Snakefile parse time).
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config problem naming its dotted key, e.g. ``datasets.embedded.splits.dev_fraction``."""

    def __init__(self, key: str, message: str):
        self.key, self.message = key, message
        super().__init__(f"config key {key!r}: {message}")

    def under(self, prefix: str) -> ConfigError:
        """The same problem with its key inside ``prefix`` (a slice's error in the whole config)."""
        return ConfigError(join_key(prefix, self.key), self.message)


def join_key(*parts: Any) -> str:
    return ".".join(str(p) for p in parts if str(p)) or "<root>"


@cache
def load_schema(path: Path = SCHEMA_PATH) -> dict[str, Any]:
    # libyaml's loader: the schema is read on every Snakefile parse (10x faster than Python's).
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(Path(path).read_text(), Loader=loader)  # noqa: S506 (a safe loader)


def _describe(error: jsonschema.ValidationError, prefix: str) -> ConfigError:
    """A ConfigError naming the deepest key the schema error is about, in plain words."""
    path = [*error.absolute_path]
    why = error.schema.get("description") if isinstance(error.schema, dict) else None
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(known))
        return ConfigError(
            join_key(prefix, *path, *extra[:1]),
            f"is not allowed (unknown key; known here: {', '.join(known) or 'none'})",
        )
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return ConfigError(join_key(prefix, *path, missing), f"is required ({why or 'see schema'})")
    if error.validator == "not" and error.validator_value == {}:
        return ConfigError(join_key(prefix, *path), f"is not allowed here: {why}")
    message = error.message
    if isinstance(error.instance, bool) and error.validator == "type":
        message += " (YAML reads bare yes/no/on/off as booleans: quote them)"
    elif isinstance(error.instance, str) and error.validator == "type" and _numeric(error.instance):
        message += (
            " (Snakemake's --config passes nested values as strings: put overrides in a YAML "
            "file after the study's, --configfile study.yaml overrides.yaml)"
        )
    elif why:
        message += f" ({why})"
    return ConfigError(join_key(prefix, *path), message)


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# Keys an earlier release's config may hold, and what replaced them ("*" is any name): checked
# before the schema, so an old config is told what to change, every key at once.
REPLACED = {
    ("probe", "lr"): "renamed probe.lrs, a list of the learning rates tried (dev picks one), "
    "e.g. lrs: [0.005]",
    ("tasks", "*", "probe", "lr"): "renamed lrs (a task's probe block), a list of the learning "
    "rates tried, e.g. lrs: [0.005]",
    ("similarity", "controls", "bootstrap"): "replaced by similarity.controls.groups: intervals "
    "are a delete-a-group jackknife over groups of whole utterances (a frame bootstrap treated "
    "an utterance's frames as independent); groups: 20 is the default, 0 gives none",
}


def replaced_keys(config: Any) -> list[ConfigError]:
    """One error per key of :data:`REPLACED` present in ``config``, saying what replaced it."""
    found = []
    for pattern, message in REPLACED.items():
        for key in _matching(config, pattern):
            found.append(ConfigError(key, message))
    return found


def _matching(node: Any, pattern: tuple[str, ...], prefix: str = "") -> list[str]:
    if not pattern:
        return [prefix]
    if not isinstance(node, dict):
        return []
    head, rest = pattern[0], pattern[1:]
    names = list(node) if head == "*" else [head] if head in node else []
    return [k for name in names for k in _matching(node[name], rest, join_key(prefix, name))]


def fill_defaults(config: dict[str, Any]) -> None:
    """Set every key the schema gives a ``default`` that ``config`` leaves out, in place (a
    default block, ``{}``, is then filled in turn), so every consumer reads one complete
    config and a key written out equals the same key left out."""
    base = jsonschema.Draft7Validator
    properties = base.VALIDATORS["properties"]

    def with_defaults(validator, schema_properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in schema_properties.items():
                if isinstance(sub, dict) and "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from properties(validator, schema_properties, instance, schema)

    filling = jsonschema.validators.extend(base, {"properties": with_defaults})
    for _ in filling(load_schema()).iter_errors(config):
        pass  # errors are check_schema's to report


def check_schema(value: Any, definition: str | None = None, key: str = "") -> None:
    """Check ``value`` against the whole schema, or against ``#/definitions/<definition>``.

    ``key`` is where ``value`` sits in the whole config, so errors name the full key.
    """
    if definition is None:
        check_against(value, load_schema(), key)
    else:
        check_against(value, {"$ref": f"#/definitions/{definition}"}, key)


def check_against(value: Any, schema: dict[str, Any], key: str = "") -> None:
    """Check ``value`` against ``schema``, which may ``$ref`` the config schema's definitions
    (a model family's ``config_schema``); errors name the full ``key``."""
    schema = {"definitions": load_schema()["definitions"], **schema}
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(value))
    if errors:
        # The deepest error names the most specific key (e.g. `init` over a missing `seed` that
        # only an invalid init would need); best_match then descends into oneOf branches.
        deepest = max(errors, key=lambda e: len(e.absolute_path))
        raise _describe(jsonschema.exceptions.best_match([deepest]), key)
