"""Run an encoder over a dataset once and stream every layer into its shards.

Utterances run in length-sorted batches (bounded padded size), one forward pass per batch for
all layers, under ``torch.inference_mode`` (and bfloat16 autocast when asked); the next batch's
audio loads in a background thread meanwhile. Each layer's rows go to a spill file as they come
and are written in manifest order at the end (:class:`strata.features.shards.SpillWriter`), so
memory is bounded by one batch's activations, whatever the dataset size or level.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf
import torch
from tqdm import tqdm

from strata.features.batching import plan_batches
from strata.features.pooling import POOLING
from strata.features.selection import frame_utterances
from strata.features.shards import SpillWriter, shard_path
from strata.io import atomic_dir
from strata.models import contract
from strata.models.base import ContractError, Encoder, LayerOutput, LayerSpec
from strata.workflow import HeapTrimmer, fix_malloc_mmap_threshold, resolve_device

log = logging.getLogger(__name__)
# Freed heap pages go back to the kernel once RSS has grown this much past the last trim:
# reusing them in between spares the kernel's page faults, trimming keeps RSS flat.
TRIM_SLACK_MB = 512


def load_audio(path: Path, sample_rate: int) -> torch.Tensor:
    """Mono float32 waveform at ``sample_rate`` (channels averaged, resampled if needed)."""
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


def _loaded(
    batches: list[np.ndarray], paths: list[Path], sample_rate: int, workers: int
) -> Iterator:
    """(batch, waves, lengths) per batch, the next one loading while the caller computes, its
    files decoded by ``workers`` threads (decoding releases the GIL)."""
    with ThreadPoolExecutor(max_workers=1) as prefetch, ThreadPoolExecutor(workers) as decode:

        def load(batch: np.ndarray):
            waves = list(decode.map(lambda i: load_audio(paths[i], sample_rate), batch))
            return batch, *pad_batch(waves)

        pending = prefetch.submit(load, batches[0]) if batches else None
        for following in [*batches[1:], None]:
            current = pending.result()
            pending = prefetch.submit(load, following) if following is not None else None
            yield current


@contextmanager
def compute_precision(device: torch.device, precision: str) -> Iterator[None]:
    """``float32`` is float32 (no TF32 for matrix products or convolutions on CUDA);
    ``bfloat16`` runs under autocast."""
    if precision == "bfloat16":
        with torch.autocast(device.type, dtype=torch.bfloat16):
            yield
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _forward(encoder: Encoder, waves, lengths, device, precision: str, where: list[str], model):
    """One batch through the encoder; its errors name the model and the utterances, and a
    broken contract names the model and the layer."""
    try:
        with torch.inference_mode(), compute_precision(device, precision):
            outputs = encoder(waves.to(device), lengths.to(device))
    except ContractError as err:
        raise ContractError(f"model {model!r}: {err}; {contract.FIX}") from err
    except Exception as err:  # a user's encoder may raise anything: say where it happened
        raise ValueError(
            f"model {model!r}: the encoder failed on utterances {where[:8]}: "
            f"{type(err).__name__}: {err}"
        ) from err
    return outputs


def _checked(model: str, specs, outputs, lengths, sample_rate: int, where: list[str]):
    """The batch's layers as declared (:func:`contract.check_layers`) and finite."""
    specs = contract.check_layers(model, specs, outputs, lengths, sample_rate)
    found = contract.nonfinite(outputs, where)
    if found is not None:
        layer, bad = found
        raise ValueError(
            f"model {model!r}, layer {layer!r}: NaN or infinite values for utterances "
            f"{bad[:8]} (silent or broken audio, or an encoder that divides by zero)"
        )
    return specs


def check_encoder(
    encoder: Encoder,
    model: str,
    paths: list[Path],
    ids: list[str],
    num_samples: np.ndarray,
    max_samples: int,
    device: torch.device,
) -> list[LayerSpec]:
    """The contract (:mod:`strata.models.contract`) on a few of the dataset's utterances, in
    float32: padded together, then each alone. Returns the layers, undeclared widths filled."""
    if not ids:
        return list(encoder.layers)
    picks = contract.check_batch(num_samples, max_samples)
    where = [f"{ids[i]} ({paths[i]})" for i in picks]
    waves, lengths = pad_batch([load_audio(paths[i], encoder.sample_rate) for i in picks])
    batched = _forward(encoder, waves, lengths, device, "float32", where, model)
    specs = _checked(model, encoder.layers, batched, lengths, encoder.sample_rate, where)
    alone = [
        _forward(encoder, waves[i : i + 1, :n], lengths[i : i + 1], device, "float32", [u], model)
        for i, (n, u) in enumerate(zip(lengths.tolist(), where, strict=True))
    ]
    contract.check_padding(model, batched, alone, [ids[i] for i in picks])
    return specs


def extract_features(
    encoder: Encoder,
    manifest: pd.DataFrame,
    audio_root: Path,
    out_dir: Path,
    cfg: dict[str, Any],
    metadata: dict[str, Any],
    frames_dir: Path | None = None,
) -> dict[str, int]:
    """Write every layer's shards into ``out_dir`` (frame shards into ``frames_dir``, when
    given, always created); returns rows written per shard file name.

    ``cfg`` is the features config slice: level (utterance|frame), pooling, batch_seconds,
    chunk_size (utterances per write), device, dtype (stored precision), precision (compute)
    and frame_hours (frames kept per split, :mod:`strata.features.selection`).
    """
    device = resolve_device(cfg["device"])
    encoder.to(device)
    fix_malloc_mmap_threshold()
    max_samples = int(cfg["batch_seconds"] * encoder.sample_rate)
    num_samples = np.round(manifest["duration"].to_numpy() * encoder.sample_rate).astype(int)
    paths = [audio_root / p for p in manifest["path"]]
    ids = manifest["utt_id"].tolist()
    keep = np.ones(len(ids), bool)
    if cfg.get("frame_hours"):
        splits, seconds = manifest["split"].tolist(), manifest["duration"].to_numpy()
        keep = frame_utterances(splits, seconds, cfg["frame_hours"])
    model = metadata.get("model")
    specs = check_encoder(encoder, model, paths, ids, num_samples, max_samples, device)
    framed = np.cumsum(keep) - 1  # an utterance's row among those that keep their frames
    level_ids = {"utterance": ids, "frame": [u for u, k in zip(ids, keep, strict=True) if k]}
    writers: dict[str, SpillWriter] = {}
    with atomic_dir(out_dir) as tmp, _frames_folder(frames_dir, tmp) as frames_tmp:
        # Sparse updates when logging to a file rather than a terminal.
        interval = 0.1 if sys.stderr.isatty() else 10
        desc = f"extract {metadata.get('model')}"
        progress = tqdm(total=len(ids), desc=desc, unit="utt", mininterval=interval)
        batches = plan_batches(num_samples, max_samples)
        # On CPU the encoder has the cores; on a GPU the host's cores decode audio.
        workers = 1 if device.type == "cpu" else min(8, os.cpu_count() or 1)
        trim = HeapTrimmer(TRIM_SLACK_MB)
        for batch, waves, lengths in _loaded(batches, paths, encoder.sample_rate, workers):
            where = [f"{ids[i]} ({paths[i]})" for i in batch]
            outputs = _forward(encoder, waves, lengths, device, cfg["precision"], where, model)
            _checked(model, specs, outputs, lengths, encoder.sample_rate, where)
            for index, spec in enumerate(specs):
                meta = {
                    **metadata,
                    "layer": spec.name,
                    "layer_index": index,
                    "num_layers": len(specs),
                    "frame_rate": spec.frame_rate,
                }
                for level, rows in _rows(outputs[spec.name], spec, cfg).items():
                    where = batch
                    if level == "frame":  # positions among the utterances keeping frames
                        rows = [r for r, k in zip(rows, keep[batch], strict=True) if k]
                        where = framed[batch[keep[batch]]]
                    if not rows:
                        continue
                    folder = tmp if level == "utterance" else frames_tmp
                    key = shard_path(folder, spec.name, level).name
                    if key not in writers:
                        ids_at = level_ids[level]
                        writers[key] = _writer(folder, spec, level, rows[0], ids_at, cfg, meta)
                    writers[key].write(where.tolist(), rows)
            progress.update(len(batch))
            trim()
        progress.close()
        return {name: writer.close(cfg["chunk_size"]) for name, writer in writers.items()}


@contextmanager
def _frames_folder(frames_dir: Path | None, out_tmp: Path) -> Iterator[Path]:
    """Where frame shards go: their own folder (written atomically), else beside the rows."""
    if frames_dir is None:
        yield out_tmp
        return
    with atomic_dir(frames_dir) as tmp:
        yield tmp


def _rows(out: LayerOutput, spec: LayerSpec, cfg: dict[str, Any]) -> dict[str, list]:
    """Per level, one array per utterance: pooled (D,) always, (frames, D) at frame level."""
    hidden = out.hidden.float()
    rows = {"utterance": list(POOLING[cfg["pooling"]](hidden, out.lengths).cpu().numpy())}
    if cfg["level"] == "frame" and spec.frame_rate is not None:
        frames = hidden.cpu().numpy()
        rows["frame"] = [frames[row, : int(n)] for row, n in enumerate(out.lengths.tolist())]
    return rows


def _writer(tmp: Path, spec, level: str, first, ids, cfg, meta) -> SpillWriter:
    pooling = cfg["pooling"] if level == "utterance" and spec.frame_rate is not None else None
    meta = {**meta, "pooling": pooling}
    path = shard_path(tmp, spec.name, level)
    return SpillWriter(path, ids, first.shape[-1], level, meta, cfg["dtype"])
