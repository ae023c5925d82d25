"""Run an encoder over a dataset once and stream every layer into its own shard."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf
import torch
from tqdm import tqdm

from strata.features.batching import plan_batches
from strata.features.pooling import POOLING
from strata.features.shards import ShardWriter
from strata.io import atomic_dir
from strata.models.base import Encoder, LayerOutput, LayerSpec

log = logging.getLogger(__name__)


def load_audio(path: Path, sample_rate: int) -> torch.Tensor:
    """Mono float32 waveform at ``sample_rate``."""
    try:
        wave, sr = sf.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as err:
        raise ValueError(f"cannot read audio {path}: {err}") from err
    wave = torch.from_numpy(wave.mean(axis=1))
    if sr != sample_rate:
        import torchaudio.functional as AF

        wave = AF.resample(wave, sr, sample_rate)
    return wave


def pad_batch(waves: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(w) for w in waves])
    batch = torch.zeros(len(waves), int(lengths.max()))
    for row, wave in enumerate(waves):
        batch[row, : len(wave)] = wave
    return batch, lengths


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def extract_features(
    encoder: Encoder,
    manifest: pd.DataFrame,
    audio_root: Path,
    out_dir: Path,
    cfg: dict[str, Any],
    metadata: dict[str, Any],
) -> dict[str, int]:
    """Write ``out_dir/{layer}.parquet`` for every layer; returns rows written per layer.

    ``cfg`` is the features config slice: level (utterance|frame), pooling, batch_seconds,
    chunk_size, device. At utterance level frame-level layers are pooled; utterance-level layers
    (frame_rate None) are always written one row per utterance.
    """
    device = resolve_device(cfg.get("device", "auto"))
    encoder.to(device)
    max_samples = int(cfg["batch_seconds"] * encoder.sample_rate)
    num_samples = np.round(manifest["duration"].to_numpy() * encoder.sample_rate).astype(int)
    paths = [audio_root / p for p in manifest["path"]]
    ids = manifest["utt_id"].tolist()
    writers: dict[str, ShardWriter] = {}
    with atomic_dir(out_dir) as tmp:
        # Sparse updates when logging to a file rather than a terminal.
        interval = 0.1 if sys.stderr.isatty() else 10
        desc = f"extract {metadata.get('model')}"
        progress = tqdm(total=len(ids), desc=desc, unit="utt", mininterval=interval)
        for chunk, batches in plan_batches(num_samples, max_samples, cfg["chunk_size"]):
            rows = _run_chunk(encoder, batches, paths, device, cfg, progress)
            for index, spec in enumerate(encoder.layers):
                if spec.name not in writers:
                    meta = {
                        **metadata,
                        "layer": spec.name,
                        "layer_index": index,
                        "num_layers": len(encoder.layers),
                        "frame_rate": spec.frame_rate,
                    }
                    writers[spec.name] = _open_writer(tmp, spec, cfg, rows[spec.name], meta)
                arrays = [rows[spec.name][int(i)] for i in chunk]
                _write_rows(writers[spec.name], [ids[i] for i in chunk], arrays)
        progress.close()
        for writer in writers.values():
            writer.close()
    return {name: writer.rows for name, writer in writers.items()}


def _run_chunk(encoder, batches, paths, device, cfg, progress) -> dict[str, dict[int, np.ndarray]]:
    """Forward every batch of a chunk once; per layer, manifest index → that utterance's rows."""
    rows: dict[str, dict[int, np.ndarray]] = {spec.name: {} for spec in encoder.layers}
    for batch in batches:
        wave_batch, lens = pad_batch([load_audio(paths[i], encoder.sample_rate) for i in batch])
        with torch.inference_mode():
            outputs = encoder(wave_batch.to(device), lens.to(device))
        for spec in encoder.layers:
            per_utt = _utterance_rows(outputs[spec.name], spec, cfg)
            rows[spec.name].update(zip(batch.tolist(), per_utt, strict=True))
        progress.update(len(batch))
    return rows


def _is_frame_level(spec: LayerSpec, cfg: dict[str, Any]) -> bool:
    return cfg["level"] == "frame" and spec.frame_rate is not None


def _utterance_rows(out: LayerOutput, spec: LayerSpec, cfg: dict[str, Any]) -> list[np.ndarray]:
    """Per utterance: a (frames, D) array at frame level, else a pooled (D,) vector."""
    if _is_frame_level(spec, cfg):
        hidden = out.hidden.float().cpu().numpy()
        return [hidden[row, : int(n)] for row, n in enumerate(out.lengths.tolist())]
    return list(POOLING[cfg["pooling"]](out.hidden.float(), out.lengths).cpu().numpy())


def _open_writer(tmp: Path, spec: LayerSpec, cfg: dict[str, Any], rows, meta) -> ShardWriter:
    dim = next(iter(rows.values())).shape[-1]
    level = "frame" if _is_frame_level(spec, cfg) else "utterance"
    pooling = None if level == "frame" else cfg["pooling"]
    return ShardWriter(tmp / f"{spec.name}.parquet", dim, level, {**meta, "pooling": pooling})


def _write_rows(writer: ShardWriter, utt_ids: list[str], arrays: list[np.ndarray]) -> None:
    """Append one chunk, in manifest order."""
    if writer.level == "utterance":
        writer.write(utt_ids, np.stack(arrays))
        return
    rep_ids = [u for u, a in zip(utt_ids, arrays, strict=True) for _ in range(len(a))]
    frames = np.concatenate([np.arange(len(a)) for a in arrays])
    writer.write(rep_ids, np.concatenate(arrays), frames)
