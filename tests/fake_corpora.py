"""Small corpus trees in each corpus's exact on-disk layout (file names, split files, CSVs,
trial lists), with short tones for audio. Used by the recipe tests and the end-to-end run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16000


def tone(path: Path, seconds: float, freq: float, rate: int = RATE, channels: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * np.random.default_rng(int(freq)).normal(
        size=len(t)
    )
    sf.write(path, np.stack([wave] * channels, 1) if channels > 1 else wave, rate)
    return path


def librispeech(root: Path) -> Path:
    """3 subsets × 2 speakers × 1 chapter × 3 utterances; one word cmudict lacks."""
    texts = ["THE CAT SAT", "A DOG RAN HOME", "ZORBLAXX IS HERE"]
    for s_index, subset in enumerate(["train-clean-100", "dev-clean", "test-clean"]):
        for speaker in (f"{100 + s_index}", f"{200 + s_index}"):
            chapter = root / subset / speaker / "3000"
            lines = []
            for i, text in enumerate(texts):
                utt = f"{speaker}-3000-{i:04d}"
                tone(chapter / f"{utt}.flac", 0.4 + 0.1 * i, 200 + 10 * i + int(speaker))
                lines.append(f"{utt} {text}")
            (chapter / f"{speaker}-3000.trans.txt").write_text("\n".join(lines) + "\n")
    return root


def voxceleb1(root: Path) -> Path:
    """6 speakers × 4 utterances; the iden split; a trial list over the last 2 speakers, who are
    the verification test speakers (``Set`` column of ``vox1_meta.csv``), the rest ``dev``."""
    lines, utts, meta = [], {}, ["VoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet"]
    for s in range(6):
        speaker = f"id1{s:04d}"
        meta.append(f"{speaker}\tName_{s}\t{'mf'[s % 2]}\tIreland\t{'test' if s >= 4 else 'dev'}")
        for i in range(4):
            rel = f"{speaker}/vid{i % 2}/{i:05d}.wav"
            tone(root / "wav" / rel, 0.5, 150 + 40 * s + i)
            lines.append(f"{[1, 1, 2, 3][i]} {rel}")
            utts.setdefault(speaker, []).append(rel)
    (root / "iden_split.txt").write_text("\n".join(lines) + "\n")
    a, b = utts["id10004"], utts["id10005"]
    trials = [f"1 {a[0]} {a[1]}", f"1 {b[0]} {b[2]}", f"0 {a[0]} {b[0]}", f"0 {a[3]} {b[1]}"]
    (root / "veri_test2.txt").write_text("\n".join(trials) + "\n")
    (root / "vox1_meta.csv").write_text("\n".join(meta) + "\n")
    return root


def speech_commands(root: Path, test_root: Path | None = None) -> Path:
    """Commands and other words by 3 speakers, the split lists and background noise."""
    words = ["yes", "no", "up", "bed", "cat"]
    validation, testing = [], []
    for w, word in enumerate(words):
        for s, speaker in enumerate(["aaaa1111", "bbbb2222", "cccc3333"]):
            rel = f"{word}/{speaker}_nohash_0.wav"
            tone(root / rel, 1.0, 300 + 50 * w + 7 * s)
            (validation if s == 1 else testing if s == 2 else []).append(rel)
    (root / "validation_list.txt").write_text("\n".join(validation) + "\n")
    (root / "testing_list.txt").write_text("\n".join(testing) + "\n")
    tone(root / "_background_noise_" / "white_noise.wav", 3.0, 50)
    if test_root is not None:  # named as in the test archive: _unknown_ files keep their word
        for rel in [
            "yes/dddd4444_nohash_0",
            "no/dddd4444_nohash_0",
            "_unknown_/bed_dddd4444_nohash_0",
            "_silence_/0",
        ]:
            tone(test_root / f"{rel}.wav", 1.0, 900)
    return root


def fluent_speech_commands(root: Path) -> Path:
    """Three CSVs (train/valid/test), each its own speakers, recurring phrasings."""
    header = ",path,speakerId,transcription,action,object,location"
    phrasings = [
        ("Turn on the lights", "activate", "lights", "none"),
        ("Switch off the lights", "deactivate", "lights", "none"),
        ("Heat up the kitchen", "increase", "heat", "kitchen"),
    ]
    for f, (name, speakers) in enumerate(
        [("train", ["s1", "s2"]), ("valid", ["s3"]), ("test", ["s4"])]
    ):
        rows = [header]
        for speaker in speakers:
            for p, (text, action, obj, loc) in enumerate(phrasings):
                rel = f"wavs/speakers/{speaker}/{speaker}-{p}.wav"
                tone(root / rel, 0.6, 250 + 30 * p + 5 * f)
                rows.append(f"{len(rows) - 1},{rel},{speaker},{text},{action},{obj},{loc}")
        (root / "data").mkdir(parents=True, exist_ok=True)
        (root / "data" / f"{name}_data.csv").write_text("\n".join(rows) + "\n")
    return root


def iemocap(root: Path) -> Path:
    """5 sessions × one dialog × 5 turns with neu/exc/ang/sad/fru labels."""
    for n in range(1, 6):
        session = root / f"Session{n}"
        dialog = f"Ses0{n}F_impro01"
        lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
        for i, emotion in enumerate(["neu", "exc", "ang", "sad", "fru", "hap", "neu", "sad"]):
            utt = f"{dialog}_{'FM'[i % 2]}{i:03d}"
            tone(session / "sentences" / "wav" / dialog / f"{utt}.wav", 0.5, 180 + 20 * i + n)
            lines.append(f"[{i}.0000 - {i}.9000]\t{utt}\t{emotion}\t[2.5000, 2.5000, 2.5000]")
        evaluation = session / "dialog" / "EmoEvaluation"
        evaluation.mkdir(parents=True)
        (evaluation / f"{dialog}.txt").write_text("\n".join(lines) + "\n")
    return root


def noise_manifest(root: Path, seconds: list[float], rate: int = 16_000):
    """Uniform-noise FLAC utterances ``u0, u1, ...`` under ``root/audio`` and their manifest
    rows (utt_id, path relative to ``root``, duration): a corpus for extraction tests."""
    import pandas as pd

    rng = np.random.default_rng(0)
    rows = []
    (root / "audio").mkdir(exist_ok=True)
    for i, length in enumerate(seconds):
        wave = rng.uniform(-0.5, 0.5, int(length * rate)).astype(np.float32)
        sf.write(root / "audio" / f"u{i}.flac", wave, rate, subtype="PCM_16")
        rows.append({"utt_id": f"u{i}", "path": f"audio/u{i}.flac", "duration": length})
    return pd.DataFrame(rows)
