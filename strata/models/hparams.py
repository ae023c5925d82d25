"""SpeechBrain ``hyperparams.yaml`` read as data, never executed.

A checkpoint directory is untrusted input. HyperPyYAML would import and call whatever its tags
name (``!new:``, ``!name:``, ``!apply:``); here every tag becomes an inert :class:`Tagged` value
and only ``!ref <key>`` is resolved (to another value of the same file). The caller then reads
the few entries it understands and rejects the rest by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_REF = re.compile(r"^<([A-Za-z_][\w.]*)>$")


@dataclass(frozen=True)
class Tagged:
    """A tagged YAML node: ``tag`` (e.g. ``!new:speechbrain.lobes.features.Fbank``), ``value``."""

    tag: str
    value: Any

    @property
    def target(self) -> str:
        """What the tag names, e.g. ``speechbrain.lobes.features.Fbank``."""
        return self.tag.split(":", 1)[1] if ":" in self.tag else ""


class _InertLoader(yaml.SafeLoader):
    """SafeLoader that turns every ``!tag`` into a Tagged value."""


def _tagged(loader: _InertLoader, suffix: str, node: yaml.Node) -> Tagged:
    if isinstance(node, yaml.MappingNode):
        value: Any = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_scalar(node)
    return Tagged("!" + suffix, value)


_InertLoader.add_multi_constructor("!", _tagged)


class HparamsError(ValueError):
    """A hyperparams.yaml strata cannot read, naming the file and the entry."""


def load_hparams(path: Path) -> dict[str, Any]:
    """The file's top-level mapping, tags inert, ``!ref <key>`` resolved where it names a key."""
    try:
        data = yaml.load(Path(path).read_text(), Loader=_InertLoader)  # noqa: S506 - inert loader
    except yaml.YAMLError as err:
        raise HparamsError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise HparamsError(f"{path}: expected a mapping at the top level")
    return {key: _resolve(value, data, path, key, depth=0) for key, value in data.items()}


def _resolve(value: Any, top: dict[str, Any], path: Path, where: str, depth: int) -> Any:
    if depth > 20:
        raise HparamsError(f"{path}: !ref cycle at {where!r}")
    if isinstance(value, Tagged) and value.tag == "!ref":
        match = _REF.match(str(value.value).strip())
        if not match:
            return value  # an expression (e.g. "<a>/<b>"): left unresolved, rejected if needed
        node: Any = top
        for part in match[1].split("."):
            if not isinstance(node, dict) or part not in node:
                raise HparamsError(f"{path}: {where!r} refers to unknown {match[1]!r}")
            node = node[part]
        return _resolve(node, top, path, match[1], depth + 1)
    if isinstance(value, dict):
        return {k: _resolve(v, top, path, f"{where}.{k}", depth) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, top, path, where, depth) for v in value]
    if isinstance(value, Tagged) and isinstance(value.value, dict | list):
        return Tagged(value.tag, _resolve(value.value, top, path, where, depth))
    return value


def constructor_args(
    hparams: dict[str, Any], key: str, target: str, allowed: frozenset[str], path: Path
) -> dict[str, Any]:
    """Keyword arguments of ``key: !new:<target>``; anything else there is an error naming it."""
    node = hparams.get(key)
    if not isinstance(node, Tagged) or node.tag != f"!new:{target}":
        found = node.tag if isinstance(node, Tagged) else type(node).__name__
        raise HparamsError(f"{path}: {key!r} must be !new:{target}, found {found}")
    args = node.value or {}
    if not isinstance(args, dict):
        raise HparamsError(f"{path}: {key!r} arguments must be a mapping")
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise HparamsError(f"{path}: {key!r} has arguments strata does not support: {unknown}")
    for name, value in args.items():
        if isinstance(value, Tagged):
            raise HparamsError(f"{path}: {key}.{name} is {value.tag} {value.value!r}, not a value")
    return args
