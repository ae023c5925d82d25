"""Speech Commands v0.01, for keyword spotting (KS), as SUPERB uses it: 12 classes.

Layout: ``{root}/{word}/{speaker}_nohash_{n}.wav``, ``validation_list.txt`` and
``testing_list.txt`` (paths relative to the root) and ``_background_noise_/*.wav``. The ten
commands keep their word as ``keyword``; every other word is ``_unknown_``; ``_silence_`` clips
are 1 s windows cut from the background noise at fixed offsets (written under ``out_dir``).
Train is what neither list names; dev is ``validation_list.txt``; test is the separate
``speech_commands_test_set_v0.01`` archive (``test_root``: one folder per class, ``_silence_``
and ``_unknown_`` included), as SUPERB does, or ``testing_list.txt`` when it is not given. The
archive names its files ``{command}/{speaker}_nohash_{n}.wav``,
``_unknown_/{word}_{speaker}_nohash_{n}.wav`` and ``_silence_/{n}.wav``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf

from strata.datasets.common import capped, require_file, with_audio, write_manifest

COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
NOISE = "_background_noise_"
SILENCE_PER_FILE = {"train": 60, "dev": 6, "test": 6}  # 1 s windows cut from each noise file


def _label(word: str) -> str:
    return word if word in COMMANDS or word in ("_silence_", "_unknown_") else "_unknown_"


def _row(path: Path, root: Path, split: str) -> dict[str, Any]:
    word, stem = path.parent.name, path.stem
    if word == "_unknown_":  # the test archive's _unknown_/{word}_{speaker}_nohash_{n}.wav
        word, _, stem = stem.partition("_")
    return {
        "utt_id": f"{split}/{path.relative_to(root).with_suffix('')}",
        "path": str(path.resolve()),
        "word": word,
        "keyword": _label(word),
        # The test archive's _silence_/{n}.wav clips have no speaker, like the cut ones.
        "speaker": stem.split("_nohash_")[0] if "_nohash_" in stem else "none",
        "split": split,
    }


def _listed(root: Path, name: str) -> set[str]:
    return set(require_file(root / name, name).read_text().split())


def silence_clips(root: Path, out_dir: Path) -> list[dict[str, Any]]:
    """1 s windows of each background-noise file, at evenly spaced offsets per split."""
    rows = []
    audio = out_dir / "audio" / "_silence_"
    audio.mkdir(parents=True, exist_ok=True)
    for noise in sorted(require_file(root / NOISE, f"the {NOISE} folder").glob("*.wav")):
        wave, rate = sf.read(noise, dtype="float32")
        starts = np.linspace(0, len(wave) - rate, sum(SILENCE_PER_FILE.values())).astype(int)
        splits = [s for s, n in SILENCE_PER_FILE.items() for _ in range(n)]
        for k, (start, split) in enumerate(zip(starts, splits, strict=True)):
            path = audio / f"{noise.stem}_{k:03d}.wav"
            sf.write(path, wave[start : start + rate], rate)
            rows.append(
                {
                    "utt_id": f"{split}/_silence_/{path.stem}",
                    "path": str(path.relative_to(out_dir)),  # inside the dataset folder
                    "word": "_silence_",
                    "keyword": "_silence_",
                    "speaker": "none",
                    "split": split,
                }
            )
    return rows


def prepare_speech_commands(cfg: dict[str, Any], out_dir: Path, threads: int = 1) -> pd.DataFrame:
    root = Path(cfg["root"]).expanduser()
    dev, test = _listed(root, "validation_list.txt"), _listed(root, "testing_list.txt")
    rows = []
    for wav in sorted(root.glob("*/*.wav")):
        if wav.parent.name == NOISE:
            continue
        rel = str(wav.relative_to(root))
        split = "dev" if rel in dev else "test" if rel in test else "train"
        if split != "test" or "test_root" not in cfg:
            rows.append(_row(wav, root, split))
    rows += [
        c for c in silence_clips(root, out_dir) if c["split"] != "test" or "test_root" not in cfg
    ]
    if "test_root" in cfg:
        test_root = require_file(Path(cfg["test_root"]).expanduser(), "the test-set archive")
        rows += [_row(wav, test_root, "test") for wav in sorted(test_root.glob("*/*.wav"))]
    if not rows:
        raise FileNotFoundError(f"no {{word}}/*.wav under {root}")
    df = capped(pd.DataFrame(rows).drop_duplicates("utt_id"), cfg.get("caps"), cfg.get("seed", 0))
    df = with_audio(df, threads, base=out_dir)
    write_manifest(df, out_dir, cfg)
    return df
