"""Waveform post-processing: mono, pitch shift by resampling, silence trim, peak norm, FLAC."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

from strata.io import atomic_path

PEAK = 0.9
MARGIN_S = 0.1


def read_mono(path: Path) -> tuple[np.ndarray, int]:
    """Float32 mono samples (channel mean) and the file's sample rate."""
    data, sr = sf.read(path, dtype="float32", always_2d=True)
    return data.mean(axis=1, dtype=np.float32), int(sr)


@lru_cache(maxsize=64)
def _resampler(orig: int, new: int) -> torchaudio.transforms.Resample:
    # Same sinc kernel as torchaudio.functional.resample, but built once per rate pair:
    # odd rates like round(22050 * 1.3) have a small gcd with 16 kHz and a large kernel.
    return torchaudio.transforms.Resample(orig, new)


def pitch_resample(x: np.ndarray, sr: int, pitch: float, target_sr: int) -> np.ndarray:
    """Resample as if recorded at ``sr * pitch``: pitch rises by ``pitch``, duration shrinks."""
    orig = round(sr * pitch)
    if orig == target_sr:
        return x
    with torch.no_grad():
        return _resampler(orig, target_sr)(torch.from_numpy(x)).numpy()


def peak_normalise(x: np.ndarray, peak: float = PEAK) -> np.ndarray:
    top = float(np.max(np.abs(x))) if x.size else 0.0
    if top == 0.0:
        raise ValueError("synthesised audio is silent")
    return (x * (peak / top)).astype(np.float32)


def trim_silence(x: np.ndarray, sr: int, margin: float = MARGIN_S, floor_db: float = -35.0):
    """Cut leading/trailing audio quieter than ``floor_db`` below the peak, keeping ``margin`` s.

    Engines pad utterances with different amounts of silence (espeak ~0.3 s at the end, flite
    ~0.25 s at the start); left in, that padding is an engine fingerprint and drowns the last
    frames that recurrent speaker encoders summarise.
    """
    loud = np.flatnonzero(np.abs(x) >= np.max(np.abs(x)) * 10 ** (floor_db / 20))
    if loud.size == 0:
        raise ValueError("synthesised audio is silent")
    pad = int(margin * sr)
    return x[max(0, loud[0] - pad) : loud[-1] + 1 + pad]


def write_flac(path: Path, x: np.ndarray, sr: int) -> None:
    """16-bit FLAC, written atomically (the temp name has no .flac suffix, so name the format)."""
    with atomic_path(path) as tmp:
        sf.write(tmp, x, sr, format="FLAC", subtype="PCM_16")
