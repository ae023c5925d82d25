"""Atomic writes: an artifact is either complete at its final path or absent."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

# A prepared dataset folder: results/data/{dataset}/
MANIFEST = "manifest.parquet"
TRIALS = "trials.parquet"  # verification trials, where the dataset has them
# split: "dev" trials choose layers and learning rates, "test" trials are reported; the two
# sets have disjoint speakers, and neither's speakers train a verification projection.
TRIAL_COLUMNS = ("enrollment", "test", "target", "split")

# Every strata Parquet file carries its provenance as JSON under this schema-metadata key.
PARQUET_META_KEY = b"strata"


# Output folders under results/: how many path parts below each kind a job's output has (a
# file deeper inside is part of that output: removing the output reruns the job).
OUTPUT_DEPTH = {
    "data": 1,
    "models": 1,
    "trained": 1,
    "features": 2,
    "frames": 2,
    "probes": 3,  # a task's folder: one job (probe.jobs: model) or the layers' jobs
}


class DamagedFileError(ValueError):
    """A file strata wrote earlier (or an input) can no longer be read: truncated or corrupt."""

    def __init__(self, path: str | os.PathLike[str], reason: str):
        self.path = Path(path)
        super().__init__(f"{path}: damaged ({reason}); {rebuild_hint(self.path)}")


def rebuild_hint(path: Path) -> str:
    """How to get a good copy of ``path``: rerun the job whose output holds it, restore a
    shipped file, or fetch an input again."""
    parts = path.parts
    if "results" in parts[:-1]:
        at = len(parts) - 1 - parts[::-1].index("results")
        depth = OUTPUT_DEPTH.get(parts[at + 1], len(parts))
        output = Path(*parts[: min(len(parts), at + 2 + depth)])
        return (
            f"remove {output} and run snakemake again (the job that wrote it reruns, then every "
            "job that read it)"
        )
    if "checkpoints" in parts[:-1]:
        return f"restore the shipped file: git checkout -- {path}"
    return "it is an input, not strata's output: restore it from its source"


@contextmanager
def reading(path: str | os.PathLike[str]) -> Iterator[None]:
    """Errors decoding ``path`` (truncated, corrupt) become a :class:`DamagedFileError` naming
    it and how to rebuild it; a missing file stays a FileNotFoundError."""
    try:
        yield
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except (pa.ArrowException, OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DamagedFileError(path, f"{type(err).__name__}: {err}") from err


def clear_stale(final: Path) -> None:
    """Remove the temp files and folders a killed writer of ``final`` left beside it (a job
    that re-runs is the only writer of its outputs, so none of them is in use)."""
    pattern = re.compile(rf"\.{re.escape(final.name)}\.[A-Za-z0-9_]{{8}}\.tmp")
    for leftover in final.parent.glob(f".{glob.escape(final.name)}.*.tmp"):
        if pattern.fullmatch(leftover.name):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary file path beside ``path``; rename it into place on success."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    clear_stale(final)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; swap it into place on success."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    clear_stale(final)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    with reading(path):
        return json.loads(Path(path).read_text())


def parquet_metadata(metadata: dict[str, Any]) -> dict[bytes, bytes]:
    """Schema metadata holding ``metadata`` as JSON."""
    return {PARQUET_META_KEY: json.dumps(metadata, sort_keys=True, default=str).encode()}


def write_parquet(table: pa.Table, path: str | os.PathLike[str], metadata: dict[str, Any]) -> None:
    """Write ``table`` atomically with ``metadata`` in its schema."""
    table = table.replace_schema_metadata(parquet_metadata(metadata))
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_table(path: str | os.PathLike[str], **kwargs: Any) -> pa.Table:
    """``pq.read_table``, its decoding errors naming the file (:func:`reading`)."""
    with reading(path):
        return pq.read_table(path, **kwargs)


def parquet_file(path: str | os.PathLike[str]) -> pq.ParquetFile:
    """``pq.ParquetFile`` (footer read now), its decoding errors naming the file."""
    with reading(path):
        return pq.ParquetFile(path)


def read_parquet_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The provenance JSON of a Parquet file written by strata."""
    with reading(path):
        raw = (pq.read_schema(path).metadata or {}).get(PARQUET_META_KEY)
    if raw is None:
        raise ValueError(f"{path}: not a strata file (no {PARQUET_META_KEY.decode()!r} metadata)")
    return json.loads(raw)


def read_columns(
    path: str | os.PathLike[str], required: tuple[str, ...] = ()
) -> dict[str, list[Any]]:
    """A Parquet table as plain Python columns (no pandas: probe jobs start faster without it);
    a missing ``required`` column is an error naming the file."""
    table = read_table(path)
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise ValueError(f"{path}: missing column {missing[0]!r}")
    return table.to_pydict()
