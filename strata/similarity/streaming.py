"""Minibatch linear CKA whose memory does not grow with n (Nguyen et al., 2021).

Each minibatch gives an unbiased HSIC estimate for every pair of layers and for every layer with
itself; CKA is the mean cross HSIC over the geometric mean of the mean self HSICs. Averaging the
HSICs (not per-batch CKA values) keeps the estimator consistent and CKA(X, X) = 1 exactly. The
means weight each batch by its usable pairs, m(m − 3), so a small last batch counts for little
and the estimate does not depend on n mod the batch size. Minibatches hold whole utterances.

Memory is one minibatch of rows plus one m × m Gram per layer. Controls come from those Grams: a
permutation null permutes whole utterances of B inside each batch (a gather of its Gram, no new
GEMM), and the jackknife's leave-a-group-out HSICs of a batch are Gram inner products weighted by
vec(c cᵀ), c the 0/1 indicator of the rows kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from strata.similarity import linear
from strata.similarity.base import ORTHOGONAL, SCALING, TRANSLATION, Measure, Properties
from strata.similarity.resampling import Jackknife, block_permutation

Chunk = tuple[list[np.ndarray], list[np.ndarray] | None, np.ndarray]  # A, B (None: A), owners


class HSICAccumulator:
    """Per-minibatch unbiased HSICs between layers of A and B (or A with itself), with their
    permutation nulls and leave-a-group-out values when asked for."""

    def __init__(
        self,
        names_a: Sequence[str],
        names_b: Sequence[str] | None,
        permutations: int = 0,
        jackknife: Jackknife | None = None,
        seed: int = 0,
    ):
        self.names_a, self.names_b = list(names_a), names_b and list(names_b)
        self.permutations, self.jackknife = permutations, jackknife
        self.rng = np.random.default_rng([seed, 1])
        self.weight: list[float] = []  # per batch m(m − 3)
        self.cross: list[np.ndarray] = []  # per batch (L_A, L_B)
        self.self_a: list[np.ndarray] = []
        self.self_b: list[np.ndarray] = []
        self.null: list[np.ndarray] = []  # per batch (K, L_A, L_B)
        # Per batch, with group g's rows left out: weight (G,), HSICs (G, L_A, L_B), (G, L).
        self.jack: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._buffers: linear._Buffers | None = None

    @property
    def batches(self) -> int:
        return len(self.cross)

    def update(
        self, xs: Sequence[np.ndarray], ys: Sequence[np.ndarray] | None, owners: np.ndarray
    ) -> None:
        """Add one minibatch (the same rows on both sides, at least 4; ``owners``: each row's
        utterance)."""
        a = linear.centre_layers(xs, self.names_a)  # the unbiased HSIC ignores centring
        b = a if ys is None else linear.centre_layers(ys, self.names_b)
        m = a.n
        if m < 4 or b.n != m or len(owners) != m:
            raise ValueError(f"a minibatch needs ≥ 4 rows on both sides, got {m} and {b.n}")
        self.weight.append(m * (m - 3.0))
        if not self.permutations and self.jackknife is None:  # Gram blocks: less memory
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
        null = [
            self._permuted(grams_a, grams_b, a, b, m, block_permutation(owners, self.rng))
            for _ in range(self.permutations)
        ]
        self._add(grams_a @ grams_b.T, sq_a, sq_b, a, b, m, null)
        if self.jackknife is not None:
            self.jack.append(self._left_out(grams_a, grams_b, m, self.jackknife.of(owners)))

    def _add(self, cross, sq_a, sq_b, a, b, m, null) -> None:
        self.cross.append(linear.unbiased_hsic(cross, a.k_ones, b.k_ones, m))
        self.self_a.append(linear.self_unbiased_hsic(sq_a, a.k_ones, m))
        self.self_b.append(linear.self_unbiased_hsic(sq_b, b.k_ones, m))
        self.null.append(np.array(null))

    @staticmethod
    def _permuted(grams_a, grams_b, a, b, m, p) -> np.ndarray:
        shuffled = np.take(grams_b, (p[:, None] * m + p).ravel(), axis=1)  # one flat gather
        return linear.unbiased_hsic(grams_a @ shuffled.T, a.k_ones, b.k_ones[:, p], m)

    def _left_out(self, grams_a, grams_b, m, group) -> tuple[np.ndarray, ...]:
        """Unbiased HSICs of the batch without each group's rows, from its zero-diagonal Grams:
        with c the 0/1 rows kept, ⟨K̃, L̃⟩_c = Σ c_i c_j K̃_ij L̃_ij, row sums (K̃c) ⊙ c."""
        keep = (group[None, :] != np.arange(self.jackknife.count)[:, None]).astype(np.float64)

        def side(grams):  # (G, L, m) row sums over kept rows, (G, L) Σ c_i c_j K̃_ij²
            k = grams.reshape(-1, m, m)
            ones = (k @ keep.T).transpose(2, 0, 1) * keep[:, None, :]
            squares = [np.einsum("ig,ig->g", (kl * kl) @ keep.T, keep.T) for kl in k]
            return ones, np.array(squares).T

        ones_a, sq_a = side(grams_a)
        ones_b, sq_b = (ones_a, sq_a) if grams_b is grams_a else side(grams_b)
        kept = keep.sum(axis=1)
        weight = np.where(kept >= 4, kept * (kept - 3), 0.0)
        cross = np.zeros((len(keep), len(grams_a), len(grams_b)))
        self_a, self_b = np.zeros(sq_a.shape), np.zeros(sq_b.shape)
        for g in np.flatnonzero(weight):  # a group leaving under 4 rows drops the batch
            n = int(kept[g])
            inner = (grams_a * np.outer(keep[g], keep[g]).ravel()) @ grams_b.T
            cross[g] = linear.unbiased_hsic(inner, ones_a[g], ones_b[g], n)
            self_a[g] = linear.self_unbiased_hsic(sq_a[g], ones_a[g], n)
            self_b[g] = linear.self_unbiased_hsic(sq_b[g], ones_b[g], n)
        return weight, cross, self_a, self_b

    def cka(self) -> np.ndarray:
        """CKA from the m(m − 3)-weighted mean HSICs over the batches."""
        if not self.cross:
            raise ValueError("no minibatches were added")
        w = np.array(self.weight)
        return _mean(self.cross, w) / _denominator(
            self, _mean(self.self_a, w), _mean(self.self_b, w)
        )

    def null_cka(self) -> np.ndarray:
        """(K, L_A, L_B) CKA under the permutation null (B's self HSICs do not change)."""
        w = np.array(self.weight)
        denominator = _denominator(self, _mean(self.self_a, w), _mean(self.self_b, w))
        return _mean(self.null, w) / denominator

    def jackknife_cka(self) -> np.ndarray:
        """(G, L_A, L_B): CKA θ_(g) on the same batches with group g's utterances left out (NaN
        where a layer is constant without them)."""
        w = np.array([j[0] for j in self.jack])  # (batches, G)

        def mean(i: int) -> np.ndarray:
            values = np.array([j[i] for j in self.jack])
            shape = w.shape + (1,) * (values.ndim - 2)
            return (w.reshape(shape) * values).sum(axis=0) / w.sum(axis=0).reshape(shape[1:])

        with np.errstate(invalid="ignore", divide="ignore"):
            den = np.sqrt(np.einsum("ga,gb->gab", mean(2), mean(3)))
            return np.where(den > 0, mean(1) / den, np.nan)


def _mean(values: list[np.ndarray], weight: np.ndarray) -> np.ndarray:
    return np.tensordot(weight, np.array(values), axes=1) / weight.sum()


def _denominator(acc: HSICAccumulator, self_a: np.ndarray, self_b: np.ndarray) -> np.ndarray:
    names_b = acc.names_b or acc.names_a
    bad = [n for n, v in zip(acc.names_a + names_b, [*self_a, *self_b], strict=True) if v <= 0]
    if bad:
        raise ValueError(f"CKA undefined for layers {sorted(set(bad))}: constant across samples")
    return np.sqrt(np.outer(self_a, self_b))


def minibatches(
    chunks: Iterable[Chunk], batch_size: int, rng: np.random.Generator, pool_batches: int = 2
) -> Iterator[Chunk]:
    """Re-cut a stream of row chunks (A's layers, B's layers or None, each row's utterance)
    into minibatches of whole utterances, shuffled.

    Chunks must hold whole utterances. Rows are pooled until ``pool_batches`` batches' worth are
    held; the pooled utterances are then shuffled and cut, at utterance boundaries, into batches
    of about ``batch_size`` rows, so a minibatch mixes many utterances; the remainder (at least
    one batch) stays pooled. At the end the pool is cut too, a tail under 4 rows joining the
    batch before. Batches are gathered from the pooled chunks directly (no copy of the pool),
    so memory is about ``pool_batches`` batches plus one chunk.
    """
    pool: list[Chunk] = []
    rows = 0
    for chunk in chunks:
        pool.append(chunk)
        rows += len(chunk[2])
        if rows >= pool_batches * batch_size:
            order, bounds = _cut(np.concatenate([c[2] for c in pool]), batch_size, rng)
            held = max(i for i, s in enumerate(bounds) if rows - s >= batch_size)
            for start, stop in zip(bounds[:held], bounds[1 : held + 1], strict=True):
                yield _gather(pool, order[start:stop])
            if held:  # at least a batch's worth stays pooled
                pool = [_gather(pool, order[bounds[held] :])]
                rows = len(pool[0][2])
    if rows:
        order, bounds = _cut(np.concatenate([c[2] for c in pool]), batch_size, rng)
        if len(bounds) > 2 and bounds[-1] - bounds[-2] < 4:
            bounds.pop(-2)
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            yield _gather(pool, order[start:stop])


def _cut(owners: np.ndarray, batch_size: int, rng: np.random.Generator):
    """Rows in a shuffled order of utterances (each one's rows in their order), and the row
    offsets bounding each batch: at the utterance where about every ``batch_size`` rows are
    reached, then the remainder: 0, ends…, all rows."""
    _, first, inverse, sizes = np.unique(
        owners, return_index=True, return_inverse=True, return_counts=True
    )
    shuffled = np.argsort(first, kind="stable")[rng.permutation(len(first))]  # utterances
    position = np.empty(len(first), dtype=np.int64)
    position[shuffled] = np.arange(len(first))
    order = np.argsort(position[inverse], kind="stable")
    ends = np.cumsum(sizes[shuffled])
    at = np.searchsorted(ends, np.arange(batch_size, ends[-1] + 1, batch_size))
    return order, sorted({0, *ends[at].tolist(), int(ends[-1])})


def _gather(pool: list[Chunk], rows: np.ndarray) -> Chunk:
    """Rows (indices into the pooled chunks, end to end) of every layer on both sides."""
    edges = np.cumsum([0] + [len(owners) for _, _, owners in pool])
    piece = np.searchsorted(edges, rows, side="right") - 1
    parts = [(k, rows[piece == k] - edges[k]) for k in np.unique(piece)]

    def side(index: int) -> list[np.ndarray]:
        layers = len(pool[0][index])
        return [
            np.concatenate([pool[k][index][layer][local] for k, local in parts])
            for layer in range(layers)
        ]

    owners = np.concatenate([pool[k][2][local] for k, local in parts])
    return side(0), None if pool[0][1] is None else side(1), owners


@dataclass(frozen=True)
class MinibatchCKA(Measure):
    """Streaming linear CKA from minibatch unbiased HSIC; on in-memory layers the utterances
    are shuffled once (``seed``) and cut into batches of about ``batch_size`` rows."""

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

    def accumulate(
        self,
        a,
        b,
        permutations: int = 0,
        jackknife: Jackknife | None = None,
        owners: np.ndarray | None = None,
        seed: int | None = None,
    ) -> HSICAccumulator:
        """In-memory layers (prepared ``a``, ``b``) as one chunk; ``owners``: each row's
        utterance (default: one row each)."""
        xs, names_a = a
        ys, names_b = (None, None) if b is None else b
        owners = np.arange(len(xs[0])) if owners is None else np.asarray(owners)
        seed = self.seed if seed is None else seed
        return self.stream([(xs, ys, owners)], names_a, names_b, permutations, jackknife, seed)

    def stream(
        self,
        chunks: Iterable[Chunk],
        names_a: Sequence[str],
        names_b: Sequence[str] | None,
        permutations: int = 0,
        jackknife: Jackknife | None = None,
        seed: int = 0,
    ) -> HSICAccumulator:
        """Row chunks of whole utterances, re-cut into shuffled minibatches, accumulated."""
        acc = HSICAccumulator(names_a, names_b, permutations, jackknife, seed)
        rng = np.random.default_rng([seed, 0])
        for batch_a, batch_b, owners in minibatches(chunks, self.batch_size, rng):
            acc.update(batch_a, batch_b, owners)
        return acc
