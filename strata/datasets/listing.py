"""The audio files a user's manifest lists, read without pandas (the Snakefile asks at parse
time, so that an edited audio file re-runs what depends on it)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


def audio_root(cfg: dict[str, Any]) -> Path:
    """Where relative audio paths start: ``audio_root``, or the manifest's folder."""
    source = Path(cfg["path"]).expanduser()
    return Path(cfg.get("audio_root", source.resolve().parent)).expanduser()


def listed_paths(source: Path) -> list[str]:
    """The ``path`` column as written; empty when the table is absent or unreadable here (the
    import job then fails naming the problem)."""
    if not source.is_file():
        return []
    if source.suffix == ".parquet":
        import pyarrow.parquet as pq  # only for Parquet manifests

        return [str(p) for p in pq.read_table(source, columns=["path"]).column("path").to_pylist()]
    delimiter = "\t" if source.suffix == ".tsv" else ","
    with open(source, newline="") as handle:
        return [row["path"] for row in csv.DictReader(handle, delimiter=delimiter) if "path" in row]


def audio_files(cfg: dict[str, Any]) -> list[str]:
    """Absolute paths of the audio a ``kind: manifest`` dataset lists."""
    root = audio_root(cfg)
    return [str((root / p).resolve()) for p in listed_paths(Path(cfg["path"]).expanduser())]
