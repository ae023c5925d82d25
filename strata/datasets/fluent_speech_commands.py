"""Fluent Speech Commands, for intent classification (IC), as SUPERB uses it.

Layout: ``{root}/data/{train,valid,test}_data.csv`` with columns ``path`` (relative to the
root, e.g. ``wavs/speakers/{speaker}/{uuid}.wav``), ``speakerId``, ``transcription``,
``action``, ``object`` and ``location``. The splits' speakers are disjoint (the corpus's own
split). ``intent`` is the joint label ``action|object|location``: an utterance counts as right
only when all three slots are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from strata.datasets.common import capped, require_file, with_audio, write_manifest

FILES = {"train": "train_data.csv", "dev": "valid_data.csv", "test": "test_data.csv"}
COLUMNS = ("path", "speakerId", "transcription", "action", "object", "location")


def prepare_fluent_speech_commands(
    cfg: dict[str, Any], out_dir: Path, threads: int = 1
) -> pd.DataFrame:
    root = Path(cfg["root"]).expanduser()
    frames = []
    for split, name in FILES.items():
        csv = require_file(root / "data" / name, name)
        table = pd.read_csv(csv)
        missing = [c for c in COLUMNS if c not in table.columns]
        if missing:
            raise ValueError(f"{csv}: missing columns {missing}")
        frames.append(table.assign(split=split))
    df = pd.concat(frames, ignore_index=True)
    df = pd.DataFrame(
        {
            "utt_id": [str(Path(p).with_suffix("")) for p in df["path"]],
            "path": [str(require_file(root / p, f"the audio {p}").resolve()) for p in df["path"]],
            "speaker": df["speakerId"].astype(str),
            "text": df["transcription"].astype(str),
            "action": df["action"],
            "object": df["object"],
            "location": df["location"],
            "intent": df["action"] + "|" + df["object"] + "|" + df["location"],
            "split": df["split"],
        }
    )
    df = capped(df, cfg.get("caps"), cfg.get("seed", 0))
    df = with_audio(df, threads)
    write_manifest(df, out_dir, cfg)
    return df
