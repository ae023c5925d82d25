"""VoxCeleb1, for speaker identification (SID) and verification (ASV).

Layout: ``{root}/wav/{speaker}/{youtube id}/{nnnnn}.wav``, the identification split file
``iden_split.txt`` (``1|2|3 id10001/1zcIwhmdeo4/00001.wav``: train, dev, test) and a
verification trial list such as ``veri_test2.txt`` (``1|0 enrolment.wav test.wav``), both at
the root by default. Utterance ids are the paths without ``.wav``. The manifest's ``split``
is the identification split; the trials go to ``trials.parquet`` (the verification probe reads
those, and its trained projection never sees a speaker that occurs in a trial).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from strata.corpus.manifest import write_trials
from strata.datasets.common import capped, require_file, with_audio, write_manifest

SPLIT_CODES = {"1": "train", "2": "dev", "3": "test"}


def _utt(path: str) -> str:
    return path.strip().removesuffix(".wav")


def read_iden_split(path: Path) -> dict[str, str]:
    splits = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            code, _, wav = line.partition(" ")
            if code not in SPLIT_CODES or not wav.endswith(".wav"):
                raise ValueError(f"{path}:{number}: expected '1|2|3 speaker/video/nnnnn.wav'")
            splits[_utt(wav)] = SPLIT_CODES[code]
    return splits


def read_trials(path: Path) -> pd.DataFrame:
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            parts = line.split()
            if len(parts) != 3 or parts[0] not in ("0", "1"):
                raise ValueError(f"{path}:{number}: expected '1|0 enrolment.wav test.wav'")
            rows.append((_utt(parts[1]), _utt(parts[2]), parts[0] == "1"))
    return pd.DataFrame(rows, columns=["enrollment", "test", "target"])


def prepare_voxceleb1(cfg: dict[str, Any], out_dir: Path, threads: int = 1) -> pd.DataFrame:
    root = Path(cfg["root"]).expanduser()
    wav = require_file(root / "wav", "the wav/ folder")
    splits = read_iden_split(
        require_file(root / cfg.get("iden_split", "iden_split.txt"), "iden_split.txt")
    )
    trials = read_trials(require_file(root / cfg.get("trials", "veri_test2.txt"), "the trial list"))
    utts = sorted(set(splits) | set(trials["enrollment"]) | set(trials["test"]))
    rows = [
        {
            "utt_id": u,
            "path": str(require_file(wav / f"{u}.wav", f"the audio of {u}").resolve()),
            "speaker": u.split("/")[0],
            "split": splits.get(u, "verification"),
        }
        for u in utts
    ]
    df = capped(pd.DataFrame(rows), cfg.get("caps"), cfg.get("seed", 0))
    kept = set(df["utt_id"])
    trials = trials[trials["enrollment"].isin(kept) & trials["test"].isin(kept)].reset_index(
        drop=True
    )
    df = with_audio(df, threads)
    write_manifest(df, out_dir, cfg)
    write_trials(trials, out_dir / "trials.parquet", {"config": dict(cfg)})
    return df
