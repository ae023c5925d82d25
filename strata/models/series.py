"""Checkpoint series: training time as an axis. ``snapshots:`` on a model makes it a series of
models, one per checkpoint, each probed and compared like any other; the report orders them.

- On a trained model, a list of epochs: ``snapshots: [0, 1, 3, 8, 24]``. Epoch 0 is the random
  init (the configured ``init: random`` model of the same family, architecture and seed where
  there is one, else ``<name>@e0``); the last epoch is the model itself (the default run's
  model, cached once); each other one, ``<name>@e<k>``, loads ``snapshots/e<k>/`` of the
  training output, so it must be one the train block's ``snapshots`` keeps.
- On a pretrained model, your own series: ``snapshots: {files: "ckpts/*.pt"}`` (state-dict
  files of the family's network) or ``snapshots: {revisions: [step1000, step2000]}`` (HF hub
  revisions in the local cache). Each becomes ``<name>@s<step>``, the step read from the file
  name or revision (its last number), in step order.

:func:`with_series` expands ``models`` (seeds already expanded); :func:`series_of` gives each
series as (label, position, model) in order. Light (parse time): globs are read here.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from strata.models.twins import initial_weights
from strata.schema import ConfigError

Models = Mapping[str, Mapping[str, Any]]
MARK = "@"  # <model>@e<epoch>, <model>@s<step>
KEY = "snapshots"
EPOCH = "snapshot"  # a trained series member's key: the epoch its weights are from
_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def member(model: str, label: str) -> str:
    return f"{model}{MARK}{label}"


def base_of(model: str) -> str:
    """The model a series member belongs to (a model outside a series: itself)."""
    return model.split(MARK, 1)[0]


def identity(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A model's config less what does not change the model: which snapshots its training
    keeps, and its own series."""
    out = {k: v for k, v in cfg.items() if k != KEY}
    if "train" in out:
        out["train"] = {k: v for k, v in out["train"].items() if k != KEY}
    return out


def step_of(name: str, where: str) -> int:
    """The step or epoch in a checkpoint's name (a file's stem, a revision): its last number."""
    found = _NUMBER.search(name)
    if found is None:
        raise ConfigError(where, f"no step number in {name!r}: name each checkpoint by its step")
    return int(found[1])


def _trained(name: str, cfg: Mapping[str, Any], models: Models) -> list[tuple[str, int, str, dict]]:
    train = cfg["train"]
    last, kept = train["epochs"], set(train.get(KEY, []))
    missing = [e for e in cfg[KEY] if e not in kept | {0, last}]
    if missing:
        raise ConfigError(
            f"models.{name}.{KEY}",
            f"epochs {missing} are not kept by its training (train.{KEY}: {sorted(kept)}; "
            f"epochs {train['epochs']} and 0 always are): add them there and retrain",
        )
    # train.snapshots stays in the last epoch's slice: its training keeps them.
    plain = {k: v for k, v in cfg.items() if k != KEY}
    start = initial_weights(cfg)
    init = next(
        (m for m, o in models.items() if o["init"] == "random" and initial_weights(o) == start),
        None,
    )
    out = []
    for epoch in sorted(set(cfg[KEY])):
        if epoch == last:
            out.append((f"e{epoch}", epoch, name, plain))
        elif epoch == 0:
            random = {k: v for k, v in plain.items() if k not in ("train", "random_twin", "role")}
            random["init"] = "random"
            out.append(("e0", 0, init or member(name, "e0"), random))
        else:
            snapshot = {k: v for k, v in plain.items() if k not in ("random_twin", "role")}
            out.append((f"e{epoch}", epoch, member(name, f"e{epoch}"), snapshot | {EPOCH: epoch}))
    return out


def _user(name: str, cfg: Mapping[str, Any]) -> list[tuple[str, int, str, dict]]:
    spec, where = cfg[KEY], f"models.{name}.{KEY}"
    plain = {k: v for k, v in cfg.items() if k not in (KEY, "random_twin")}
    if "files" in spec:
        if "path" in cfg:
            raise ConfigError(f"models.{name}.path", f"each file of {where}.files is a path")
        files = sorted(glob.glob(spec["files"]))
        if not files:
            raise ConfigError(f"{where}.files", f"no file matches {spec['files']!r}")
        found = [(step_of(Path(f).stem, f"{where}.files"), {**plain, "path": f}) for f in files]
    else:
        revisions = spec["revisions"]
        found = [(step_of(r, f"{where}.revisions"), {**plain, "revision": r}) for r in revisions]
    steps = [s for s, _ in found]
    if len(set(steps)) != len(steps):
        raise ConfigError(where, f"two checkpoints have the same step: {sorted(steps)}")
    return [(f"s{s}", s, member(name, f"s{s}"), c) for s, c in sorted(found, key=lambda x: x[0])]


def _members(name: str, cfg: Mapping[str, Any], models: Models) -> list[tuple[str, int, str, dict]]:
    if cfg["init"] == "trained":
        return _trained(name, cfg, models)
    if cfg["init"] == "pretrained" and isinstance(cfg[KEY], Mapping):
        return _user(name, cfg)
    raise ConfigError(
        f"models.{name}.{KEY}",
        "a list of epochs is for init: trained; {files: ...} or {revisions: [...]} for "
        "init: pretrained",
    )


def series_of(models: Models) -> dict[str, list[tuple[str, int, str]]]:
    """Each series (a model with ``snapshots``) → (label, epoch or step, model), in order."""
    return {
        name: [(label, at, model) for label, at, model, _ in _members(name, cfg, models)]
        for name, cfg in models.items()
        if KEY in cfg
    }


def with_series(models: Models) -> dict[str, dict[str, Any]]:
    """``models`` with each series replaced by its members (in order, where it was); a member
    that is another configured model is that model, configured once."""
    out: dict[str, dict[str, Any]] = {}
    for name, cfg in models.items():
        if KEY not in cfg:
            out.setdefault(name, dict(cfg))
            continue
        for _, _, model, slice_ in _members(name, cfg, models):
            if model in models and model != name:
                continue  # the random init, configured itself: it keeps its place
            if model in out:
                raise ConfigError(f"models.{name}.{KEY}", f"{model!r} is taken")
            out[model] = slice_
    return out
