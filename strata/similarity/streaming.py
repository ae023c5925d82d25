"""Minibatch linear CKA whose memory does not grow with n (Nguyen et al., 2021).

Each minibatch gives an unbiased HSIC estimate for every pair of layers and for every layer with
itself; CKA is the mean cross HSIC over the geometric mean of the mean self HSICs. Averaging the
HSICs (not per-batch CKA values) keeps the estimator consistent and CKA(X, X) = 1 exactly. Memory
is one minibatch of rows plus one m × m Gram per layer. Per-batch HSICs are kept (L_A × L_B
floats each), so a bootstrap over minibatches costs nothing extra; a permutation null permutes
B's rows inside each minibatch (a gather of its Gram, no new GEMM).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from strata.similarity import linear
from strata.similarity.measures import (
    ORTHOGONAL,
    SCALING,
    TRANSLATION,
    Measure,
    Properties,
)


class HSICAccumulator:
    """Per-minibatch unbiased HSICs between layers of A and B (or A with itself)."""

    def __init__(
        self,
        names_a: Sequence[str],
        names_b: Sequence[str] | None,
        permutations: int = 0,
        seed: int = 0,
    ):
        self.names_a, self.names_b = list(names_a), names_b and list(names_b)
        self.permutations = permutations
        self.rng = np.random.default_rng(seed)
        self.cross: list[np.ndarray] = []  # per batch (L_A, L_B)
        self.self_a: list[np.ndarray] = []
        self.self_b: list[np.ndarray] = []
        self.null: list[np.ndarray] = []  # per batch (K, L_A, L_B)
        self._buffers: linear._Buffers | None = None

    def update(self, xs: Sequence[np.ndarray], ys: Sequence[np.ndarray] | None) -> None:
        """Add one minibatch (the same rows on both sides, at least 4)."""
        a = linear.centre_layers(xs, self.names_a)  # the unbiased HSIC ignores centring
        b = a if ys is None else linear.centre_layers(ys, self.names_b)
        m = a.n
        if m < 4 or b.n != m:
            raise ValueError(f"a minibatch needs ≥ 4 rows on both sides, got {m} and {b.n}")
        if not self.permutations:  # Gram blocks of 512 rows: a quarter of the memory
            cross, sq_a, sq_b = linear.block_inner_products(
                a, None if ys is None else b, True, block=512, keep_blocks=False
            )
            self._add(cross, sq_a, sq_b, a, b, m, [])
            return
        if self._buffers is None or len(self._buffers.f32) < m * m:
            self._buffers = linear._Buffers(m)
        span = (0, m, 0, m)
        grams_a = self._buffers.grams(a, span, True, "a")
        grams_b = grams_a if ys is None else self._buffers.grams(b, span, True, "b")
        sq_a = np.einsum("ij,ij->i", grams_a, grams_a)
        sq_b = sq_a if ys is None else np.einsum("ij,ij->i", grams_b, grams_b)
        null = [self._permuted(grams_a, grams_b, a, b, m) for _ in range(self.permutations)]
        self._add(grams_a @ grams_b.T, sq_a, sq_b, a, b, m, null)

    def _add(self, cross, sq_a, sq_b, a, b, m, null) -> None:
        self.cross.append(linear.unbiased_hsic(cross, a.k_ones, b.k_ones, m))
        self.self_a.append(linear.self_unbiased_hsic(sq_a, a.k_ones, m))
        self.self_b.append(linear.self_unbiased_hsic(sq_b, b.k_ones, m))
        self.null.append(np.array(null))

    def _permuted(self, grams_a, grams_b, a, b, m) -> np.ndarray:
        p = self.rng.permutation(m)
        shuffled = grams_b.reshape(-1, m, m)[:, p][:, :, p].reshape(len(grams_b), -1)
        return linear.unbiased_hsic(grams_a @ shuffled.T, a.k_ones, b.k_ones[:, p], m)

    def cka(self, batches: np.ndarray | None = None) -> np.ndarray:
        """CKA from the mean HSICs over ``batches`` (indices, repeats allowed; default all)."""
        if not self.cross:
            raise ValueError("no minibatches were added")
        pick = np.arange(len(self.cross)) if batches is None else batches
        cross = np.mean([self.cross[i] for i in pick], axis=0)
        return cross / _denominator(self, pick)

    def null_cka(self) -> np.ndarray:
        """(K, L_A, L_B) CKA under the permutation null."""
        pick = np.arange(len(self.cross))
        return np.mean(self.null, axis=0) / _denominator(self, pick)


def _denominator(acc: HSICAccumulator, pick: np.ndarray) -> np.ndarray:
    self_a = np.mean([acc.self_a[i] for i in pick], axis=0)
    self_b = np.mean([acc.self_b[i] for i in pick], axis=0)
    names_b = acc.names_b or acc.names_a
    bad = [n for n, v in zip(acc.names_a + names_b, [*self_a, *self_b], strict=True) if v <= 0]
    if bad:
        raise ValueError(f"CKA undefined for layers {sorted(set(bad))}: constant across samples")
    return np.sqrt(np.outer(self_a, self_b))


def minibatches(
    chunks: Iterable[tuple[list[np.ndarray], list[np.ndarray] | None]],
    batch_size: int,
    rng: np.random.Generator,
    pool_batches: int = 2,
) -> Iterator[tuple[list[np.ndarray], list[np.ndarray] | None]]:
    """Re-cut a stream of row chunks (A's layers, B's layers or None) into shuffled minibatches.

    Rows are pooled until ``pool_batches`` batches' worth are held, then shuffled and cut, so a
    minibatch mixes many utterances (frames of one utterance are not independent samples); the
    remainder (at least one batch) stays pooled. At the end the pool is cut too, a tail under
    4 rows joining the batch before. Batches are gathered from the pooled chunks directly (no
    copy of the pool), so memory is about ``pool_batches`` batches plus one chunk.
    """
    pool: list[tuple[list[np.ndarray], list[np.ndarray] | None]] = []
    rows = 0
    for chunk in chunks:
        pool.append(chunk)
        rows += len(chunk[0][0])
        if rows >= pool_batches * batch_size:
            order = rng.permutation(rows)
            full = (rows // batch_size - 1) * batch_size  # a batch held back for the tail
            for start in range(0, full, batch_size):
                yield _gather(pool, order[start : start + batch_size])
            pool, rows = [_gather(pool, order[full:])], rows - full
    if rows:
        order = rng.permutation(rows)
        starts = list(range(0, rows, batch_size))
        if rows - starts[-1] < 4 and len(starts) > 1:
            starts.pop()
        for start, stop in zip(starts, [*starts[1:], rows], strict=True):
            yield _gather(pool, order[start:stop])


def _gather(pool, rows: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """Rows (indices into the pooled chunks, end to end) of every layer on both sides."""
    edges = np.cumsum([0] + [len(xs[0]) for xs, _ in pool])
    piece = np.searchsorted(edges, rows, side="right") - 1
    parts = [(k, rows[piece == k] - edges[k]) for k in np.unique(piece)]

    def side(index: int) -> list[np.ndarray]:
        layers = len(pool[0][index])
        return [
            np.concatenate([pool[k][index][layer][local] for k, local in parts])
            for layer in range(layers)
        ]

    return side(0), None if pool[0][1] is None else side(1)


@dataclass(frozen=True)
class MinibatchCKA(Measure):
    """Streaming linear CKA from minibatch unbiased HSIC; on in-memory layers the rows are
    shuffled once (``seed``) and cut into batches of ``batch_size``."""

    name: str = "linear_cka_minibatch"
    batch_size: int = 1024
    seed: int = 0
    properties: Properties = field(
        default=Properties(
            True,
            (ORTHOGONAL, SCALING, TRANSLATION),
            (-1.0, 1.0),
            streaming=True,
            reference="Nguyen et al. 2021",
        )
    )

    def prepare(self, layers, names):
        return list(layers), list(names)

    def compare(self, a, b):
        return self.accumulate(a, b).cka()

    def accumulate(self, a, b, permutations: int = 0) -> HSICAccumulator:
        """In-memory layers (prepared ``a``, ``b``) as one chunk."""
        xs, names_a = a
        ys, names_b = (None, None) if b is None else b
        return self.stream([(xs, ys)], names_a, names_b, permutations, self.seed)

    def stream(
        self,
        chunks: Iterable[tuple[list[np.ndarray], list[np.ndarray] | None]],
        names_a: Sequence[str],
        names_b: Sequence[str] | None,
        permutations: int,
        seed: int,
    ) -> HSICAccumulator:
        """Row chunks, re-cut into shuffled minibatches, accumulated."""
        acc = HSICAccumulator(names_a, names_b, permutations, seed)
        for batch_a, batch_b in minibatches(chunks, self.batch_size, np.random.default_rng(seed)):
            acc.update(batch_a, batch_b)
        return acc
