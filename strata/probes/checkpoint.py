"""Probe checkpoints as safetensors: the state's arrays as tensors, everything else (class
names, vocabulary, learning rate, provenance) as JSON in the header. Loading runs no code and
needs neither torch nor pickle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from strata.io import atomic_path

KEY = "strata"


def _array(value: Any) -> np.ndarray | None:
    if isinstance(value, np.ndarray):
        return value
    if type(value).__module__.startswith("torch") and hasattr(value, "numpy"):
        return value.detach().cpu().numpy()
    return None


def write_probe(path: Path, state: dict[str, Any], provenance: dict[str, Any]) -> None:
    """Write ``state`` (arrays, torch tensors and JSON-able values) with its provenance."""
    from safetensors.numpy import save_file

    arrays = {k: np.ascontiguousarray(a) for k, v in state.items() if (a := _array(v)) is not None}
    rest = {k: v for k, v in state.items() if k not in arrays}
    header = json.dumps({**rest, "provenance": provenance}, sort_keys=True)
    with atomic_path(path) as tmp:
        save_file(arrays, str(tmp), metadata={KEY: header})


def read_probe(path: Path) -> dict[str, Any]:
    """The state as written: arrays as numpy, the rest (``provenance`` included) as JSON."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        names = f.keys()  # a safe_open handle is not iterable
        state = {k: f.get_tensor(k) for k in names}
        return state | json.loads(f.metadata()[KEY])
