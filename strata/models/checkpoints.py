"""State-dict checkpoints of speaker models: the backbone out of whatever wraps it.

Training recipes save more than the encoder. A DINO run keeps a teacher and a student (3D-Speaker:
``{"teacher": ..., "student": ...}``; wespeaker: ``t_model.`` / ``s_model.`` key prefixes), often
under DDP's ``module.`` prefix, each with a projection head (``projection_head.*``, 3D-Speaker's
``head.*`` beside ``backbone.*``), and supervised checkpoints carry a classifier
(``projection.*``, ``classifier.*``). :func:`backbone_state` keeps the encoder, from the teacher by
default (DINO evaluates the teacher), and drops every head; :func:`load_exact` then loads it
strictly, listing every key that does not fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from strata.io import DamagedFileError

BRANCHES = {"teacher": ("teacher", "t_model."), "student": ("student", "s_model.")}
HEADS = ("projection_head.", "projection.", "head.", "classifier.")
WRAPPERS = ("model", "state_dict", "model_state")


def read_state(path: Path) -> dict[str, Any]:
    """A checkpoint file's tensors (``weights_only``: a checkpoint cannot run code)."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:
        raise DamagedFileError(path, f"not a loadable PyTorch state dict: {err}") from None


def _strip(state: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def backbone_state(
    state: Mapping[str, Any], branch: str | None = None, source: Path | None = None
) -> dict[str, Any]:
    """The encoder's parameters: unwrapped, one DINO branch (the teacher unless ``branch``
    says), prefixes stripped, heads dropped. A ``branch`` named for a checkpoint that holds one
    network is an error (``source`` names the file), not silently the only weights."""
    top_key, prefix = BRANCHES[branch or "teacher"]
    for wrapper in WRAPPERS:
        if isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
    if branch is not None and not _has_branches(state):
        raise ValueError(
            f"{source or 'checkpoint'}: branch: {branch} is for DINO training checkpoints "
            "(teacher and student), this one holds one network; remove branch:"
        )
    if isinstance(state.get(top_key), Mapping):
        state = state[top_key]
    if any(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    if any(k.startswith(prefix) for k in state):
        state = _strip(state, prefix)
    if any(k.startswith("backbone.") for k in state):
        state = _strip(state, "backbone.")
    return {k: v for k, v in state.items() if not k.startswith(HEADS)}


def _has_branches(state: Mapping[str, Any]) -> bool:
    """Whether a checkpoint holds a DINO teacher and student (3D-Speaker's keys, or wespeaker's
    prefixes)."""
    if any(isinstance(state.get(top), Mapping) for top, _ in BRANCHES.values()):
        return True
    prefixes = tuple(f"{module}{p}" for _, p in BRANCHES.values() for module in ("", "module."))
    return any(k.startswith(prefixes) for k in state)


def load_exact(module: Any, state: Mapping[str, Any], source: Path, hint: str = "") -> None:
    """``module.load_state_dict(state)``, or a ValueError listing missing, unexpected and
    mis-shaped keys (the first few of each) so a wrong architecture is obvious."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(expected) & set(state)
        if tuple(state[k].shape) != tuple(expected[k].shape)
    )
    problems = [
        f"{label} ({len(keys)}): {keys[:6]}{' ...' if len(keys) > 6 else ''}"
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape", shapes))
        if keys
    ]
    if problems:
        raise ValueError(f"{source}: weights do not fit the model; " + "; ".join(problems) + hint)
    module.load_state_dict(dict(state))
