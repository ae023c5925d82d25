"""Provenance: what produced an artifact (code version, config slice, weights hash)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import strata


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_files(paths: Iterable[str | os.PathLike[str]]) -> str:
    """One digest over several files' names and hashes, so renames count as changes."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(path.name.encode())
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def config_digest(config_slice: Any) -> str:
    """Stable digest of a JSON-able config slice."""
    text = json.dumps(config_slice, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@cache
def code_version() -> str:
    """Package version plus the git commit of the checkout it runs from, when there is one."""
    root = Path(strata.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return f"{strata.__version__}+{commit}"


# Provenance keys that say where an artifact was made, not what it holds.
SCHEDULER_KEYS = {"SLURM_JOB_ID": "slurm_job_id", "SLURMD_NODENAME": "slurm_node"}


def scheduler_job() -> dict[str, str]:
    """The batch job an artifact was made in (SLURM's job id and node), when there is one."""
    return {name: os.environ[key] for key, name in SCHEDULER_KEYS.items() if key in os.environ}


def provenance(config_slice: Any, **fields: Any) -> dict[str, Any]:
    """The provenance record every artifact carries."""
    return {
        "code_version": code_version(),
        "config": config_slice,
        "config_sha256": config_digest(config_slice),
        **scheduler_job(),
        **fields,
    }
