"""Peak memory (MiB) and CPU time of each kind of job as functions of the data it reads:
frames, utterances, layer widths. The constants are measured by ``make bench`` (the scale
bench, ``strata/benchmarks/scale.py``) on this project's reference machine and written down in
``docs/scale.md``; a rule asks SLURM for these figures, and the plan adds them up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MIB = 2**20

# Resident memory of a job's interpreter once its libraries are imported (MiB).
PYTHON_MB = 150  # numpy, pyarrow, pandas
TORCH_MB = 600  # + torch
# Frame-level (CTC) probes: fixed cost besides the buffer, the batches and the Parquet scratch
# (CTC, autograd, the allocator), with ~10 % headroom over the scale bench's 4 h and 16 h peaks.
CTC_FIXED_MB = 400
DECODE_BYTES_PER_VALUE = 25  # decoding one row group of float16 list values, at its peak
BATCH_COPIES = 3  # a padded batch, its standardised copy and the autograd's saved input
# Utterance-level jobs hold their layers as float32: a probe as many copies as its task kind
# says (TaskKind.memory_copies), similarity about 3 (raw and centred rows, a jackknife
# subset; 20,000 x 13 x 768 a side measured 3.9x with the Gram blocks counted below).
UTTERANCE_COPIES = 3
WEIGHTED_TRANSIENT_COPIES = 3  # one layer read (float16 -> float32) and split, at its peak
GRAM_BLOCKS_MB = 1000  # linear CKA keeps up to this many bytes of Gram blocks per side

# Wall seconds per unit of work on the reference machine (2 cores; docs/benchmarks.md).
# CTC: the scale bench. Linear: a 768-dim classification probe on 20,000 utterances, 10
# epochs (16 s). CKA: the blocked Gram path, 25 x 25 layers, n 4,096, d 768 (3.8 s).
# Extraction: WavLM Base on 303 s of audio (42 s), ECAPA-TDNN C=512 (4.3 s).
CTC_SECONDS_PER_VALUE = 1.4e-7  # per frame x width x epoch, one learning rate, train + dev
LINEAR_SECONDS_PER_VALUE = 1.0e-7  # per utterance x width x epoch, one learning rate
CKA_SECONDS_PER_FLOP = 1.2e-11  # n² x (widths) multiply-adds of the Gram blocks
EXTRACT_SECONDS_PER_FLOP = 1.5e-11  # 2 x weights x frame rate per second of audio


def ctc_probe_mb(
    frames: int, dims: Sequence[int], buffer_mb: float, batch_size: int, longest: int
) -> int:
    """A CTC probe over ``dims`` (one layer, or the weighted sum's layers): the buffer (or
    every frame, when they fit it), one decoded row group, the larger of a training batch and
    a decoding batch, the statistics pass's chunk and the fixed cost."""
    from strata.features.shards import ROW_GROUP_ROWS
    from strata.probes.limits import DECODE_FRAMES, MOMENT_ROWS

    width = sum(dims)
    held = min(buffer_mb * MIB, frames * width * 4)
    parquet = ROW_GROUP_ROWS * max(dims) * DECODE_BYTES_PER_VALUE
    batch = max(batch_size * longest, DECODE_FRAMES) * width * 4 * BATCH_COPIES
    moments = MOMENT_ROWS * max(dims) * 8 * 2  # a float64 chunk and its squares
    return _mb(TORCH_MB * MIB + CTC_FIXED_MB * MIB + held + parquet + batch + moments)


def utterance_probe_mb(
    utterances: int, dims: Sequence[int], copies: float, transient: float = 0.0
) -> int:
    """A pooled-row probe: ``copies`` of every utterance's float32 vectors in memory, and
    ``transient`` copies of the widest layer while it is read and split (weighted sums)."""
    held = utterances * (sum(dims) * copies + max(dims) * transient) * 4
    return _mb(PYTHON_MB * MIB + held)


def similarity_mb(rows: int, dims_a: Sequence[int], dims_b: Sequence[int]) -> int:
    """Every layer of both models over ``rows`` (utterances, or the sampled frames), a few
    copies (centred, permuted), and the Gram blocks kept for reuse."""
    data = rows * (sum(dims_a) + sum(dims_b)) * 4 * UTTERANCE_COPIES
    return _mb(PYTHON_MB * MIB + data + GRAM_BLOCKS_MB * MIB)


def extract_mb(weights: int, batch_seconds: float, layer_values_per_second: float) -> int:
    """Model weights (float32, twice: state dict and module), one batch's activations of every
    layer (a few copies), and the torch runtime."""
    batch = batch_seconds * layer_values_per_second * 4 * UTTERANCE_COPIES
    return _mb(TORCH_MB * MIB + 2 * weights * 4 + batch)


def ctc_probe_seconds(frames: int, dims: Sequence[int], epochs: int, lrs: int) -> float:
    return frames * sum(dims) * epochs * lrs * CTC_SECONDS_PER_VALUE


def linear_probe_seconds(utterances: int, dims: Sequence[int], epochs: int, lrs: int) -> float:
    return utterances * sum(dims) * epochs * lrs * LINEAR_SECONDS_PER_VALUE


def similarity_seconds(
    rows: int, dims_a: Sequence[int], dims_b: Sequence[int], permutations: int
) -> float:
    """Linear CKA's Gram blocks (I ≤ J: rows²·d per layer), B's again per permutation."""
    a, b = sum(dims_a), sum(dims_b)
    return rows * rows * (a + b * (1 + permutations)) * CKA_SECONDS_PER_FLOP


def extract_seconds(audio_seconds: float, flops_per_second: float) -> float:
    return audio_seconds * flops_per_second * EXTRACT_SECONDS_PER_FLOP


def minutes(seconds: float, floor: int = 5) -> int:
    """SLURM runtime in minutes: twice the estimate, at least ``floor``."""
    return max(floor, math.ceil(2 * seconds / 60))


def _mb(n_bytes: float) -> int:
    return math.ceil(n_bytes / MIB)
