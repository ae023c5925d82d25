"""Similarity benchmarks for `make bench` (measured and reported, never asserted).

- **All pairs, exact**: the 25 × 25 linear-CKA matrix of one model (n = 4,096, d = 768) by the
  blocked-Gram path, against a per-pair feature-space computation that recomputes both sides for
  each pair (float64: centre X and Y, XᵀY, XᵀX, YᵀY), timed on a sample of pairs and scaled to
  all 625; and against the arithmetic floor of the chosen method (its operation count over this
  machine's measured float32 GEMM rate on the same block shapes).
- **Streaming memory**: peak RSS of the minibatch estimator on 25 + 25 layers of d = 1,024 over
  n frames, in a fresh process per n, rows generated a chunk at a time (as shards are read).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np


def model_layers(n: int, d: int, layers: int, seed: int = 0) -> list[np.ndarray]:
    """A chain of related float32 layers, each the previous plus fresh noise."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d), dtype=np.float32)
    out = []
    for _ in range(layers):
        x = x + 0.5 * rng.standard_normal((n, d), dtype=np.float32)
        out.append(np.tanh(x))
    return out


def per_pair(x: np.ndarray, y: np.ndarray) -> float:
    """The baseline: one pair, both sides recomputed, float64 feature space."""
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    cross = np.linalg.norm(x.T @ y) ** 2
    return float(cross / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def gemm_rate(n: int, d: int, block: int, repeats: int = 20) -> float:
    """This machine's float32 GEMM rate (FLOP/s) on the Gram blocks' shape, best of 3."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2 * block, d), dtype=np.float32)
    out = np.empty((block, block), dtype=np.float32)
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            np.matmul(x[:block], x[block:].T, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * block * block * d * repeats / best


def exact_matrix(n: int = 4096, d: int = 768, layers: int = 25, sample: int = 8) -> dict:
    from strata.similarity import linear

    xs = model_layers(n, d, layers)
    names = [f"layer_{i:02d}" for i in range(layers)]
    rng = np.random.default_rng(2)
    pairs = [tuple(rng.integers(layers, size=2)) for _ in range(sample)]
    start = time.perf_counter()
    reference = [per_pair(xs[i], xs[j]) for i, j in pairs]
    per_pair_s = (time.perf_counter() - start) / sample
    times = []
    for _ in range(2):
        start = time.perf_counter()
        matrix = linear.linear_cka_matrix(linear.centre_layers(xs, names), None, False)
        times.append(time.perf_counter() - start)
    ours = min(times)
    flops = linear.gram_flops(n, [d] * layers, None)
    rate = gemm_rate(n, d, linear.BLOCK_ROWS)
    diff = max(abs(matrix[i, j] - r) for (i, j), r in zip(pairs, reference, strict=True))
    return {
        **_on_gpu(xs, names, matrix, ours),
        "per-pair baseline, s per pair": per_pair_s,
        f"per-pair baseline, all {layers * layers} pairs (s)": per_pair_s * layers * layers,
        "all pairs, blocked Gram (s)": ours,
        "speed-up": per_pair_s * layers * layers / ours,
        "float32 GEMM rate here (GFLOP/s)": rate / 1e9,
        "operations of the blocked Gram path (GFLOP)": flops / 1e9,
        "time / arithmetic floor": ours / (flops / rate),
        f"max |difference| from the per-pair float64 values ({sample} pairs)": diff,
    }


def _on_gpu(xs, names, matrix: np.ndarray, cpu_s: float) -> dict[str, float]:
    """The same matrix with the GEMMs on a GPU (similarity.device), where torch sees one."""
    import torch

    from strata.similarity import linear, on_device

    if not torch.cuda.is_available():
        return {}
    products = on_device.products("cuda")
    times = []
    for _ in range(3):  # the first pays the upload and CUDA's start
        layers = linear.centre_layers(xs, names)
        torch.cuda.synchronize()
        start = time.perf_counter()
        on_gpu = linear.linear_cka_matrix(layers, None, False, products=products)
        times.append(time.perf_counter() - start)
    return {
        f"all pairs, blocked Gram on {torch.cuda.get_device_name()} (s)": min(times),
        "GPU speed-up over this machine's CPUs": cpu_s / min(times),
        "max |GPU - CPU| over the matrix": float(np.abs(on_gpu - matrix).max()),
    }


def streaming_worker(n: int, d: int, layers: int, batch: int) -> dict[str, Any]:
    """Feed n rows, a chunk at a time, through the minibatch estimator (run in a child)."""
    from strata.similarity.streaming import HSICAccumulator, minibatches

    names = [f"layer_{i:02d}" for i in range(layers)]
    rng = np.random.default_rng(0)

    def chunks(rows: int = 2000):
        for start in range(0, n, rows):
            base = rng.standard_normal((min(rows, n - start), d), dtype=np.float32)
            xs = [np.roll(base, i, axis=1) for i in range(layers)]
            ys = [np.tanh(np.roll(base, 3 * i, axis=1)) for i in range(layers)]
            yield xs, ys, np.arange(start, start + len(base))  # a row per utterance

    acc = HSICAccumulator(names, names)
    start = time.perf_counter()
    for batch_a, batch_b, owners in minibatches(chunks(), batch, rng):
        acc.update(batch_a, batch_b, owners)
    value = acc.cka()
    return {
        "wall_s": time.perf_counter() - start,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "minibatches": acc.batches,
        "diagonal_mean": float(np.mean(np.diag(value))),
    }


def streaming_rss(n: int, d: int = 1024, layers: int = 25, batch: int = 1024) -> dict:
    code = (
        "import json, sys; from strata.benchmarks.similarity import streaming_worker; "
        f"print(json.dumps(streaming_worker({n}, {d}, {layers}, {batch})))"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])
