"""Extraction benchmarks for `make bench` (measured and reported, never asserted).

- **Overhead**: the pipeline (``extract_features``: read FLAC, batch, forward, pool, write
  shards in manifest order) against a bare batched forward of the same model on the same
  batches with the audio already in memory, in one process, best of ``repeats`` each.
- **Frame-level memory**: peak RSS of a frame-level extraction (every layer, every frame) in a
  fresh process, for two amounts of audio, to show memory does not grow with the dataset, under
  this project's heap policy and the two it replaced (:data:`HEAP_POLICIES`).

Models are random-init at their real sizes (WavLM Base: 12 layers, 768 wide; SpeechBrain's
default ECAPA-TDNN): timing does not depend on the weights.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf

WAVLM_BASE = {"family": "hf_transformers", "init": "random", "seed": 0, "arch": "wavlm"}
ECAPA = {"family": "speechbrain_ecapa", "init": "random", "seed": 0, "config": {}}
FEATURES = {
    "level": "utterance",
    "pooling": "mean",
    "batch_seconds": 32,
    "chunk_size": 256,
    "device": "auto",
    "dtype": "float32",
    "precision": "float32",
}


def synth_corpus(root: Path, seconds: float, seed: int = 0) -> pd.DataFrame:
    """FLAC utterances of 2-6 s (harmonic tones in noise) totalling ``seconds``; a manifest."""
    rng = np.random.default_rng(seed)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    rows, total = [], 0.0
    while total < seconds:
        duration = float(rng.uniform(2, 6))
        t = np.arange(int(duration * 16000)) / 16000
        f0 = rng.uniform(90, 250)
        wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * 0.05
        wave = (wave + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
        name = f"u{len(rows):05d}"
        sf.write(root / "audio" / f"{name}.flac", wave, 16000)
        rows.append({"utt_id": name, "path": f"audio/{name}.flac", "duration": len(t) / 16000})
        total += duration
    return pd.DataFrame(rows)


def _model(cfg: dict[str, Any], workdir: Path):
    from strata.models.registry import get_family

    family = get_family(cfg["family"])
    return family.load(cfg, family.materialise(cfg, workdir))


def _bare(encoder, cfg: dict[str, Any]):
    """A forward of the underlying library model on a padded batch: HF hidden states, or
    SpeechBrain's Fbank + mean norm + ECAPA_TDNN.forward (SpeechBrain's own padding)."""
    import torch

    if cfg["family"] == "hf_transformers":

        def run(waves, lengths):
            steps = torch.arange(waves.shape[1], device=waves.device)
            mask = (steps[None] < lengths[:, None]).long()
            return encoder.model(waves, attention_mask=mask, output_hidden_states=True)

        return run
    fbank, norm = encoder.frontend.modules()

    def run(waves, lengths):
        relative = lengths.float() / waves.shape[1]
        return encoder.model(norm(fbank(waves), relative), relative)

    return run


def overhead(cfg: dict[str, Any], manifest: pd.DataFrame, root: Path, repeats: int = 2) -> dict:
    """Pipeline vs bare forward seconds on the same audio and batches (best of ``repeats``)."""
    import torch

    from strata.features.batching import plan_batches
    from strata.features.extract import (
        compute_precision,
        extract_features,
        load_audio,
        pad_batch,
    )
    from strata.workflow import resolve_device

    with tempfile.TemporaryDirectory(prefix="strata-bench-") as tmp:
        encoder = _model(cfg, Path(tmp))
        samples = np.round(manifest["duration"].to_numpy() * 16000).astype(int)
        batches = plan_batches(samples, int(FEATURES["batch_seconds"] * 16000))
        waves = [load_audio(root / p, 16000) for p in manifest["path"]]
        padded = [pad_batch([waves[i] for i in batch]) for batch in batches]
        bare, pipeline = [], []
        run = _bare(encoder, cfg)
        device = resolve_device(FEATURES["device"])
        encoder.to(device)
        for attempt in range(repeats):
            start = time.perf_counter()
            with torch.inference_mode(), compute_precision(device, "float32"):
                for batch_waves, lengths in padded:
                    run(batch_waves.to(device), lengths.to(device))
            if device.type == "cuda":
                torch.cuda.synchronize()
            bare.append(time.perf_counter() - start)
            start = time.perf_counter()
            out = Path(tmp) / f"features{attempt}"
            extract_features(encoder, manifest, root, out, FEATURES, {"model": "bench"})
            pipeline.append(time.perf_counter() - start)
    return {
        "audio_s": round(float(manifest["duration"].sum())),
        "bare_s": round(min(bare), 2),
        "pipeline_s": round(min(pipeline), 2),
        "ratio": round(min(pipeline) / min(bare), 3),
    }


# How freed tensors' memory is handled (strata.workflow): ours, and the two it replaced.
HEAP_POLICIES = {
    "32 MiB threshold, trimmed past 512 MB of growth": None,
    "128 KiB threshold (every tensor a fresh mmap)": 128 * 1024,
    "glibc's dynamic threshold, never trimmed": 0,
}


def frame_level_rss(seconds: float, workdir: Path, policy: str) -> dict:
    """Peak RSS (MB) and wall time of a frame-level WavLM Base extraction, in a fresh process
    under one of :data:`HEAP_POLICIES`."""
    threshold = HEAP_POLICIES[policy]
    heap = "project" if threshold is None else str(threshold)
    module = "strata.benchmarks.extraction"
    cmd = [sys.executable, "-m", module, str(seconds), str(workdir), heap]
    start = time.perf_counter()
    result = subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return {"audio_s": report["audio_s"], "wall_s": round(wall), **report["shards"]}


def _frame_level_child(seconds: float, workdir: Path, heap: str) -> None:
    from strata.features import extract
    from strata.workflow import fix_malloc_mmap_threshold

    if heap != "project":  # a replaced policy: that threshold (0: glibc's own), never trimmed
        threshold = int(heap)
        pin = (lambda: fix_malloc_mmap_threshold(threshold)) if threshold else (lambda: None)
        extract.fix_malloc_mmap_threshold = pin
        extract.HeapTrimmer = lambda slack_mb: lambda: None  # what extraction trims with

    root = workdir / f"audio_{int(seconds)}"
    manifest = synth_corpus(root, seconds)
    encoder = _model(WAVLM_BASE, workdir / "model")
    out = workdir / f"frames_{int(seconds)}"
    cfg = {**FEATURES, "level": "frame"}
    rows = extract.extract_features(encoder, manifest, root, out, cfg, {"model": "wavlm_base"})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = sum(p.stat().st_size for p in out.iterdir()) / 2**30
    frames = sum(n for name, n in rows.items() if name.endswith(".frames.parquet"))
    shards = {"peak_rss_mb": round(peak), "frame_rows": frames, "shards_gib": round(size, 2)}
    print(json.dumps({"audio_s": round(float(manifest["duration"].sum())), "shards": shards}))


if __name__ == "__main__":
    _frame_level_child(float(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
