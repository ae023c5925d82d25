"""A toy corpus: harmonic tones, each speaker a base pitch, each utterance high or low.

Config: ``{kind: strata_toys.corpora:TONES, speakers: 6, per_speaker: 10, seed: 0}``.
Labels ``speaker`` and ``pitch`` (low, high); per speaker 60 % train, 20 % dev, 20 % test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf

from strata.datasets.common import with_audio, write_manifest
from strata.datasets.registry import DatasetKind

RATE = 16_000
TONES = DatasetKind("strata_toys.corpora:prepare_tones", labels=("speaker", "pitch"), trials=False)


def tone(rng: np.random.Generator, base: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    wave = sum(np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6.3)) / k for k in (1, 2, 3))
    return (0.2 * wave + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def prepare_tones(cfg: dict[str, Any], out_dir: Path, threads: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(cfg.get("seed", 0))
    (out_dir / "audio").mkdir(parents=True)
    rows = []
    per_speaker = cfg.get("per_speaker", 10)
    for s in range(cfg.get("speakers", 6)):
        base = 110.0 * 1.25**s
        for i in range(per_speaker):
            pitch = ("low", "high")[i % 2]
            path = out_dir / "audio" / f"s{s}_{i:03d}.wav"
            sf.write(path, tone(rng, base * (1.5 if pitch == "high" else 1.0), 0.6), RATE)
            share = i / per_speaker
            split = "train" if share < 0.6 else "dev" if share < 0.8 else "test"
            rows.append(
                {
                    "utt_id": path.stem,
                    "path": f"audio/{path.name}",  # inside the dataset folder
                    "speaker": f"s{s}",
                    "pitch": pitch,
                    "split": split,
                }
            )
    manifest = with_audio(pd.DataFrame(rows), threads, base=out_dir)  # paths inside out_dir
    write_manifest(manifest, out_dir, cfg)
    return manifest
