"""LibriSpeech, for phoneme recognition (PR), as SUPERB uses it.

Layout: ``{root}/{subset}/{speaker}/{chapter}/{speaker}-{chapter}-{utt}.flac`` with one
``{speaker}-{chapter}.trans.txt`` per chapter (``{utt_id} UPPER CASE WORDS`` per line).
Subsets become splits: ``train-clean-100`` → train, ``dev-clean`` → dev, ``test-clean`` →
test (configurable). Labels: ``speaker``, ``chapter``, ``text``, ``words`` and ``phones``
(cmudict's first pronunciation, stress removed). An utterance with a word cmudict lacks gets no
phones (it is outside the PR task); how many, and the most frequent such words, are logged and
stored in the manifest's metadata.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from strata.corpus.lexicon import known_words, phones
from strata.datasets.common import capped, require_file, with_audio, write_manifest

log = logging.getLogger(__name__)
SUBSETS = {"train": "train-clean-100", "dev": "dev-clean", "test": "test-clean"}


def read_transcripts(subset_dir: Path) -> list[dict[str, Any]]:
    rows = []
    for trans in sorted(subset_dir.glob("*/*/*.trans.txt")):
        speaker, chapter = trans.parent.parent.name, trans.parent.name
        for line in trans.read_text().splitlines():
            if not line.strip():
                continue
            utt, _, text = line.partition(" ")
            audio = require_file(trans.parent / f"{utt}.flac", f"the audio of {utt}")
            rows.append(
                {
                    "utt_id": utt,
                    "path": str(audio.resolve()),
                    "speaker": speaker,
                    "chapter": chapter,
                    "text": text.strip(),
                }
            )
    if not rows:
        raise FileNotFoundError(f"no {{speaker}}/{{chapter}}/*.trans.txt under {subset_dir}")
    return rows


def prepare_librispeech(cfg: dict[str, Any], out_dir: Path, threads: int = 1) -> pd.DataFrame:
    root = Path(cfg["root"]).expanduser()
    subsets = {**SUBSETS, **cfg.get("subsets", {})}
    rows = []
    for split, subset in subsets.items():
        directory = require_file(root / subset, f"the {subset} folder")
        rows += [{**row, "split": split} for row in read_transcripts(directory)]
    df = capped(pd.DataFrame(rows), cfg.get("caps"), cfg.get("seed", 0))
    known = known_words()
    words = [text.lower().split() for text in df["text"]]
    missing = Counter(w for ws in words for w in ws if w not in known)
    df["words"] = words
    df["phones"] = [phones(ws) if all(w in known for w in ws) else None for ws in words]
    dropped = int(df["phones"].isna().sum())
    log.info(
        "%d of %d utterances have words outside cmudict (no phones; outside PR); most frequent: %s",
        dropped,
        len(df),
        missing.most_common(10),
    )
    df = with_audio(df, threads)
    write_manifest(
        df,
        out_dir,
        cfg,
        out_of_lexicon={"utterances": dropped, "words": dict(missing.most_common(50))},
    )
    return df
