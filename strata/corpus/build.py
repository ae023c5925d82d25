"""``build_corpus``: plan, synthesise in parallel, write audio, manifest and trials."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from strata.corpus.audio import (
    peak_normalise,
    pitch_resample,
    read_mono,
    trim_silence,
    write_flac,
)
from strata.corpus.config import CorpusConfig, Style, parse_config
from strata.corpus.engines import SynthRequest, check_voices, synthesise
from strata.corpus.lexicon import phones
from strata.corpus.manifest import TRIALS_SCHEMA, write_manifest, write_trials
from strata.corpus.plan import Utterance, plan
from strata.corpus.timbre import espeak_data
from strata.manifest import read_manifest
from strata.provenance import provenance, sha256_file

# Small jobs keep both workers busy to the end; festival pays one voice load per job.
JOB_SIZE = 16


def _jobs(utts: Sequence[Utterance]) -> list[list[Utterance]]:
    """Chunks of one speaker's utterances, festival first because its jobs run longest."""
    by_speaker: dict[str, list[Utterance]] = {}
    for u in utts:
        by_speaker.setdefault(u.speaker, []).append(u)
    jobs = [
        own[i : i + JOB_SIZE] for own in by_speaker.values() for i in range(0, len(own), JOB_SIZE)
    ]
    return sorted(jobs, key=lambda job: job[0].voice.engine != "festival")


def _stretch(u: Utterance, style: Style) -> float:
    """The style's duration stretch, slowed or quickened by a generated speaker's own rate."""
    return style.stretch / (u.voice.timbre.rate if u.voice.timbre else 1.0)


def _render(cfg: CorpusConfig, out_dir: Path, job: Sequence[Utterance]) -> list[dict[str, Any]]:
    """Synthesise one job (one speaker's utterances) and write its FLACs; returns manifest rows
    without ``split``."""
    styles = {s.name: s for s in cfg.styles}
    timbre = job[0].voice.timbre
    rows = []
    # Each job reads its own speaker's timbre only: espeak-ng lists at most 349 voices.
    with (
        tempfile.TemporaryDirectory(prefix="strata-corpus-") as tmp,
        espeak_data([timbre] if timbre else []) as data,
    ):
        requests = [
            SynthRequest(
                u.text, _stretch(u, styles[u.style]), Path(tmp) / f"{u.utt_id}.wav", u.synth_voice
            )
            for u in job
        ]
        synthesise(job[0].voice.engine, requests, data)
        for u, req in zip(job, requests, strict=True):
            x, sr = read_mono(req.wav)
            x = pitch_resample(x, sr, styles[u.style].pitch, cfg.sample_rate)
            x = peak_normalise(trim_silence(x, cfg.sample_rate))
            rel = f"audio/{u.utt_id}.flac"
            write_flac(out_dir / rel, x, cfg.sample_rate)
            rows.append(_row(u, rel, len(x), cfg.sample_rate, out_dir / rel))
    return rows


def _row(u: Utterance, rel: str, num_samples: int, sr: int, path: Path) -> dict[str, Any]:
    return {
        "utt_id": u.utt_id,
        "path": rel,
        **u.labels(),
        "words": list(u.words),
        "phones": phones(u.words),
        "sample_rate": sr,
        "num_samples": num_samples,
        "duration": num_samples / sr,
        "audio_sha256": sha256_file(path),
    }


def build_corpus(cfg: Mapping[str, Any], out_dir: Path, threads: int = 1) -> pd.DataFrame:
    """Synthesise the ``embedded`` corpus into ``out_dir``; return the manifest as written.

    Writes ``audio/{utt_id}.flac``, ``manifest.parquet`` and ``trials.parquet``. Output is a
    pure function of ``cfg`` (and the installed voices), whatever ``threads`` is.
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    config = parse_config(cfg)
    check_voices(config)
    corpus = plan(config)  # fails on unknown words before any synthesis
    out_dir = Path(out_dir)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        jobs = pool.map(lambda job: _render(config, out_dir, job), _jobs(corpus.utterances))
        rendered = [row for job in jobs for row in job]
    columns = corpus.split_columns()
    rows = [
        row | {name: split[row["utt_id"]] for name, split in columns.items()} for row in rendered
    ]
    meta = provenance(dict(cfg))
    checksum = write_manifest(pd.DataFrame(rows), out_dir / "manifest.parquet", meta)
    trials = pd.DataFrame(corpus.trials, columns=TRIALS_SCHEMA.names)
    write_trials(trials, out_dir / "trials.parquet", {"manifest_sha256": checksum, **meta})
    return read_manifest(out_dir / "manifest.parquet")
