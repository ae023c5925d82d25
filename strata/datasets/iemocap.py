"""IEMOCAP, for emotion recognition (ER), as SUPERB uses it: four classes, one session out.

Layout: ``{root}/Session{1..5}/sentences/wav/{dialog}/{utt}.wav`` and the labels in
``{root}/Session{n}/dialog/EmoEvaluation/{dialog}.txt`` (lines ``[start - end]\\t{utt}\\t{emo}
\\t[v, a, d]``). Kept: neutral, happy (excited merged into it), angry and sad; the rest is
dropped. ``fold`` (1-5) is the test session; of the other four, a fixed fifth of each
speaker's utterances (by a hash of the id) is dev and the rest train.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pandas as pd

from strata.datasets.common import capped, require_file, with_audio, write_manifest

EMOTIONS = {"neu": "neutral", "hap": "happy", "exc": "happy", "ang": "angry", "sad": "sad"}
LINE = re.compile(r"^\[[\d.]+ - [\d.]+\]\t(\S+)\t(\w+)\t")


def _dev(utt: str) -> bool:
    return int(hashlib.sha256(utt.encode()).hexdigest(), 16) % 5 == 0


def read_labels(session: Path) -> dict[str, str]:
    labels = {}
    folder = require_file(session / "dialog" / "EmoEvaluation", "dialog/EmoEvaluation")
    for path in sorted(folder.glob("*.txt")):
        for line in path.read_text(errors="replace").splitlines():
            match = LINE.match(line)
            if match:
                labels[match[1]] = match[2]
    return labels


def prepare_iemocap(cfg: dict[str, Any], out_dir: Path, threads: int = 1) -> pd.DataFrame:
    root, fold = Path(cfg["root"]).expanduser(), int(cfg.get("fold", 1))
    rows = []
    for number in range(1, 6):
        session = require_file(root / f"Session{number}", f"Session{number}")
        for utt, code in read_labels(session).items():
            if code not in EMOTIONS:
                continue
            dialog = utt.rsplit("_", 1)[0]
            wav = require_file(
                session / "sentences" / "wav" / dialog / f"{utt}.wav", f"the audio of {utt}"
            )
            split = "test" if number == fold else "dev" if _dev(utt) else "train"
            rows.append(
                {
                    "utt_id": utt,
                    "path": str(wav.resolve()),
                    "emotion": EMOTIONS[code],
                    "speaker": utt[:5] + utt.split("_")[-1][0],
                    "session": number,
                    "split": split,
                }
            )
    df = capped(pd.DataFrame(rows), cfg.get("caps"), cfg.get("seed", 0))
    df = with_audio(df, threads)
    write_manifest(df, out_dir, cfg)
    return df
