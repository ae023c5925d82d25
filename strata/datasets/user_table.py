"""``kind: manifest``: a user's own table of audio (CSV, TSV or Parquet), checked and copied.

Columns: ``utt_id``, ``path`` (relative to the table, or to ``audio_root``), ``split``
(train/dev/test/verification) and any label columns; ``duration`` is measured. Missing files,
duplicate ids, unknown splits and unusable audio are errors that name them. An optional trial
list (``trials``: enrollment, test, target, optional split dev/test, default test) becomes
``trials.parquet``; a trial naming an unknown utterance, or a speaker in both dev and test
trials (where the manifest has a ``speaker`` column), is an error naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from strata.corpus.manifest import write_trials
from strata.datasets.common import with_audio, write_manifest
from strata.datasets.listing import audio_root
from strata.io import TRIALS
from strata.manifest import REQUIRED_COLUMNS, check_manifest
from strata.provenance import sha256_file


def read_table(path: Path) -> pd.DataFrame:
    readers = {
        ".parquet": pd.read_parquet,
        ".csv": pd.read_csv,
        ".tsv": lambda p: pd.read_csv(p, sep="\t"),
    }
    if path.suffix not in readers:
        raise ValueError(f"{path}: manifest must be .csv, .tsv or .parquet")
    if not path.is_file():
        raise FileNotFoundError(f"config key 'path': manifest {path} does not exist")
    return readers[path.suffix](path)


def resolve_audio(
    df: pd.DataFrame, source: Path, audio_root: Path, threads: int = 1
) -> pd.DataFrame:
    """A checked user manifest with absolute audio paths and the audio's hash, duration, rate
    and channel count, measured (a ``duration`` column in the table is replaced)."""
    check_manifest(df, source, required=[c for c in REQUIRED_COLUMNS if c != "duration"])
    paths = [(audio_root / str(p)).resolve() for p in df["path"]]
    absent = [str(p) for p in paths if not p.is_file()]
    if absent:
        raise FileNotFoundError(f"{source}: {len(absent)} audio files missing, e.g. {absent[:3]}")
    df = df.assign(utt_id=df["utt_id"].astype(str), path=[str(p) for p in paths])
    return with_audio(df, threads)


def import_manifest(cfg: dict[str, Any], out_dir: Path, threads: int = 1) -> pd.DataFrame:
    """Check the user's table (and trial list) and write ``out_dir/manifest.parquet`` (and
    ``trials.parquet``)."""
    source = Path(cfg["path"]).expanduser().resolve()
    df = resolve_audio(read_table(source), source, audio_root(cfg), threads)
    if "trials" in cfg:
        path = Path(cfg["trials"]).expanduser().resolve()
        trials = checked_trials(read_table(path), df, path)
        write_trials(trials, out_dir / TRIALS, {"source": str(path), "sha256": sha256_file(path)})
    write_manifest(df, out_dir, cfg, source=str(source), source_sha256=sha256_file(source))
    return df


TRUE, FALSE = {"1", "true", "True", "TRUE"}, {"0", "false", "False", "FALSE"}


def checked_trials(trials: pd.DataFrame, manifest: pd.DataFrame, source: Path) -> pd.DataFrame:
    """A user's trial list in strata's columns, or a ValueError naming what is wrong."""
    missing = [c for c in ("enrollment", "test", "target") if c not in trials.columns]
    if missing:
        raise ValueError(f"{source}: trial list lacks column {missing[0]!r}")
    target = trials["target"].astype(str)
    odd = sorted(set(target) - TRUE - FALSE)
    if odd:
        raise ValueError(f"{source}: target must be 1/0 or true/false, got {odd[:3]}")
    split = trials["split"].astype(str) if "split" in trials else pd.Series("test", trials.index)
    if sorted(set(split) - {"dev", "test"}):
        raise ValueError(f"{source}: split must be dev or test, got {sorted(set(split))[:3]}")
    out = pd.DataFrame(
        {
            "enrollment": trials["enrollment"].astype(str),
            "test": trials["test"].astype(str),
            "target": target.isin(TRUE),
            "split": split,
        }
    )
    known = set(manifest["utt_id"])
    absent = sorted((set(out["enrollment"]) | set(out["test"])) - known)
    if absent:
        raise ValueError(f"{source}: trials name utterances not in the manifest: {absent[:3]}")
    if "speaker" in manifest:
        speaker = manifest.set_index("utt_id")["speaker"].astype(str)
        sides = {
            s: set(speaker[pd.concat([out.enrollment[out.split == s], out.test[out.split == s]])])
            for s in ("dev", "test")
        }
        shared = sorted(sides["dev"] & sides["test"])
        if shared:
            raise ValueError(f"{source}: speakers in both dev and test trials: {shared[:3]}")
    return out
