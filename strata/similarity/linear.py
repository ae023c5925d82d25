"""Linear CKA for every pair of layers at once, exact, with each layer's work done once.

HSIC between linear kernels K = XXᵀ and L = YYᵀ needs only inner products of Gram matrices,
so the all-pairs matrix is built from row blocks: for blocks I ≤ J of the n samples, every layer's
Gram block X[I] X[J]ᵀ is computed once (float32 GEMM, the bulk of the arithmetic), and one float64
GEMM of the stacked blocks adds ⟨K_IJ, L_IJ⟩ for all L_A × L_B pairs. Memory is the layers plus
one block per layer, never n × n. Centring the features first makes the blocks those of HKH
(biased HSIC); the unbiased estimator (Song et al., 2012) is invariant to that centring and needs,
besides ⟨K̃, L̃⟩ on zero-diagonal Grams, only each layer's row sums K̃1, an O(n·d) vector.

When samples outnumber the summed widths, feature space (‖XᵀY‖²_F per pair, float64) has less
arithmetic; :func:`choose_path` picks by operation count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

BLOCK_ROWS = 1024  # rows per Gram block: large enough for GEMM speed, 8 MB per layer block
KEEP_BLOCKS_BYTES = 1e9  # a side's Gram blocks up to this size are kept for its next pairing


@dataclass
class Layers:
    """Layers ready for HSIC: centred float32 rows plus the O(n) statistics pairs reuse."""

    data: list[np.ndarray]  # (n, d_l) centred, float32, C-contiguous
    names: list[str]
    row_sq: np.ndarray  # (L, n) ‖x_i‖², float64
    k_ones: np.ndarray  # (L, n) K̃1: Gram row sums without the diagonal
    # Gram blocks already computed, by (span, zero diagonal): a side compared again (a
    # permutation null shuffles only the other side) skips its GEMMs.
    blocks: dict = field(default_factory=dict)
    on_device: dict = field(default_factory=dict)  # device → the layers as torch tensors there

    @property
    def n(self) -> int:
        return len(self.data[0])


def centre_layers(layers: Sequence[np.ndarray], names: Sequence[str]) -> Layers:
    """Centre each (n, d) layer in float64, keep float32; checks shapes and finiteness."""
    data, row_sq, k_ones = [], [], []
    n = len(layers[0])
    for name, x in zip(names, layers, strict=True):
        x = np.asarray(x)
        if x.ndim != 2 or len(x) != n:
            raise ValueError(f"layer {name}: expected ({n}, d) rows, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError(f"layer {name} has non-finite values")
        x64 = x.astype(np.float64)
        x32 = np.ascontiguousarray(x64 - x64.mean(axis=0), dtype=np.float32)
        x64 = x32.astype(np.float64)  # statistics of exactly the rows the Grams see
        sq = np.einsum("ij,ij->i", x64, x64)
        data.append(x32)
        row_sq.append(sq)
        k_ones.append(x64 @ x64.sum(axis=0) - sq)
    return Layers(data, list(names), np.array(row_sq), np.array(k_ones))


def block_pairs(n: int, block: int = BLOCK_ROWS) -> list[tuple[int, int, int, int, float]]:
    """Row blocks I ≤ J of ``n`` rows as (i0, i1, j0, j1, weight): an off-diagonal block
    counts twice (K_JI = K_IJᵀ), so the sums over them cover the whole Gram."""
    edges = list(range(0, n, block)) + [n]
    spans = list(zip(edges[:-1], edges[1:], strict=True))
    return [
        (i0, i1, j0, j1, 1.0 if j0 == i0 else 2.0)
        for k, (i0, i1) in enumerate(spans)
        for j0, j1 in spans[k:]
    ]


def block_inner_products(
    a: Layers,
    b: Layers | None,
    zero_diagonal: bool,
    block: int = BLOCK_ROWS,
    keep_blocks: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Σ over Gram entries of K_a·K_b for every pair, and of K_a², K_b² (``b`` None: A with
    itself). ``zero_diagonal`` drops i = j terms (K̃ of the unbiased estimator);
    ``keep_blocks`` keeps A's blocks on ``a`` (within :data:`KEEP_BLOCKS_BYTES`)."""
    pairs = block_pairs(a.n, block)
    side_b = a if b is None else b
    cross = np.zeros((len(a.data), len(side_b.data)))
    sq_a, sq_b = np.zeros(len(a.data)), np.zeros(len(side_b.data))
    buffers = _Buffers(block)
    cells = sum((i1 - i0) * (j1 - j0) for i0, i1, j0, j1, _ in pairs)
    keep = keep_blocks and b is not None and 8 * cells * len(a.data) <= KEEP_BLOCKS_BYTES
    for i0, i1, j0, j1, weight in pairs:
        key = (i0, i1, j0, j1, zero_diagonal)
        grams_a = a.blocks.get(key)
        if grams_a is None:
            grams_a = buffers.grams(a, key[:4], zero_diagonal, "a")
            if keep:
                a.blocks[key] = grams_a = grams_a.copy()
        if b is None:
            cross += weight * (grams_a @ grams_a.T)  # SYRK
            continue
        grams_b = buffers.grams(b, (i0, i1, j0, j1), zero_diagonal, "b")
        cross += weight * (grams_a @ grams_b.T)
        sq_a += weight * np.einsum("ij,ij->i", grams_a, grams_a)
        sq_b += weight * np.einsum("ij,ij->i", grams_b, grams_b)
    if b is None:
        sq_a = sq_b = np.diag(cross).copy()
    return cross, sq_a, sq_b


class _Buffers:
    """Reused storage for one block's Grams: float32 GEMM output, float64 stacks per side."""

    def __init__(self, block: int):
        self.f32 = np.empty(block * block, dtype=np.float32)
        self.f64: dict[str, np.ndarray] = {}

    def grams(self, layers: Layers, span: tuple[int, int, int, int], zero_diag: bool, side: str):
        """(L, |I|·|J|) float64: every layer's Gram block X[I] X[J]ᵀ, flattened."""
        i0, i1, j0, j1 = span
        size = (i1 - i0) * (j1 - j0)
        stack = self.f64.get(side)
        if stack is None or stack.shape != (len(layers.data), size):
            stack = self.f64[side] = np.empty((len(layers.data), size))
        out = self.f32[:size].reshape(i1 - i0, j1 - j0)
        for row, x in zip(stack, layers.data, strict=True):
            np.matmul(x[i0:i1], x[j0:j1].T, out=out)  # float32 GEMM: the bulk of the work
            if zero_diag and i0 == j0:
                np.fill_diagonal(out, 0.0)
            row[:] = out.reshape(-1)
        return stack


def unbiased_hsic(inner: np.ndarray, ones_a: np.ndarray, ones_b: np.ndarray, n: int) -> np.ndarray:
    """Unbiased HSIC from ⟨K̃, L̃⟩ (``inner``, broadcastable) and row sums K̃1, L̃1."""
    sums = np.outer(ones_a.sum(axis=-1), ones_b.sum(axis=-1)) / ((n - 1) * (n - 2))
    rows = 2.0 / (n - 2) * (ones_a @ ones_b.T)
    return (inner + sums - rows) / (n * (n - 3))


def self_unbiased_hsic(inner: np.ndarray, ones: np.ndarray, n: int) -> np.ndarray:
    """Unbiased HSIC of each layer with itself from ⟨K̃, K̃⟩ per layer and K̃1."""
    return np.diag(unbiased_hsic(np.diag(inner), ones, ones, n))


def feature_inner_products(a: Layers, b: Layers | None) -> tuple[np.ndarray, ...]:
    """The same sums as :func:`block_inner_products` via ‖XᵀY‖²_F, in float64: one GEMM of
    all of A's layers (stacked) per layer of B."""
    side_b = a if b is None else b
    stacked = np.hstack([x.astype(np.float64) for x in a.data])
    edges = np.cumsum([0] + [x.shape[1] for x in a.data])
    cross = np.empty((len(a.data), len(side_b.data)))
    for j, y in enumerate(side_b.data):
        squares = (stacked.T @ y.astype(np.float64)) ** 2
        cross[:, j] = np.add.reduceat(squares.sum(axis=1), edges[:-1])
    if b is None:
        return cross, np.diag(cross).copy(), np.diag(cross).copy()
    return cross, _self_products(a), _self_products(b)


def _self_products(layers: Layers) -> np.ndarray:
    return np.array(
        [np.linalg.norm(x64.T @ x64) ** 2 for x64 in (x.astype(np.float64) for x in layers.data)]
    )


def choose_path(n: int, dims_a: Sequence[int], dims_b: Sequence[int] | None) -> str:
    """``"gram"`` or ``"features"``, whichever needs less time for the whole matrix (``dims_b``
    None: A against itself): Gram blocks cost n²/2 per unit width of every layer (done once)
    plus n²/2 per pair, in float32 (about twice float64's rate here); feature space
    n·d_a·d_b per pair, in float64."""
    widths = sum(dims_a) + (0 if dims_b is None else sum(dims_b))
    dims_b = dims_a if dims_b is None else dims_b
    gram = n * n / 2 * widths / 2 + n * n / 2 * len(dims_a) * len(dims_b)
    features = n * sum(dims_a) * sum(dims_b)
    return "gram" if gram <= features else "features"


def gram_flops(
    n: int, dims_a: Sequence[int], dims_b: Sequence[int] | None, block: int = BLOCK_ROWS
) -> int:
    """Floating-point operations of the Gram path as blocked here (``dims_b`` None: A against
    itself): each layer's blocks I ≤ J once, plus the pair products of the stacked blocks."""
    sizes = np.diff([*range(0, n, block), n])
    cells = sum(int(si) * int(sj) for i, si in enumerate(sizes) for sj in sizes[i:])
    widths = sum(dims_a) + (0 if dims_b is None else sum(dims_b))
    return 2 * cells * (widths + len(dims_a) * len(dims_a if dims_b is None else dims_b))


def numpy_products(a: Layers, b: Layers | None, path: str, zero_diagonal: bool):
    """The inner products of either path, with numpy (``zero_diagonal``: the Gram path's)."""
    if path == "gram":
        return block_inner_products(a, b, zero_diagonal=zero_diagonal)
    return feature_inner_products(a, b)


def linear_cka_matrix(
    a: Layers,
    b: Layers | None,
    debiased: bool,
    path: str | None = None,
    products: Callable = numpy_products,
) -> np.ndarray:
    """L_A × L_B linear CKA (``b`` None: A against itself); ``products`` computes the inner
    products (:func:`numpy_products`, or on a GPU :func:`strata.similarity.on_device.products`)."""
    side_b = a if b is None else b
    n = a.n
    if side_b.n != n:
        raise ValueError(f"paired layers need the same samples: {n} vs {side_b.n} rows")
    if debiased and n < 4:
        raise ValueError(f"debiased CKA needs at least 4 samples, got {n}")
    dims_b = None if b is None else [y.shape[1] for y in b.data]
    path = path or choose_path(n, [x.shape[1] for x in a.data], dims_b)
    cross, sq_a, sq_b = products(a, b, path, debiased)
    if path != "gram" and debiased:  # remove the i = j terms: ⟨K̃, L̃⟩ = ⟨K, L⟩ − Σ ‖x_i‖²‖y_i‖²
        cross = cross - a.row_sq @ side_b.row_sq.T
        sq_a = sq_a - np.einsum("ij,ij->i", a.row_sq, a.row_sq)
        sq_b = sq_b - np.einsum("ij,ij->i", side_b.row_sq, side_b.row_sq)
    if debiased:
        cross = unbiased_hsic(cross, a.k_ones, side_b.k_ones, n)
        sq_a = self_unbiased_hsic(sq_a, a.k_ones, n)
        sq_b = self_unbiased_hsic(sq_b, side_b.k_ones, n)
    return cross / np.sqrt(np.outer(_positive(sq_a, a.names), _positive(sq_b, side_b.names)))


def _positive(self_hsic: np.ndarray, names: list[str]) -> np.ndarray:
    bad = [name for name, value in zip(names, self_hsic, strict=True) if not value > 0]
    if bad:
        raise ValueError(f"CKA undefined for layers {bad}: constant across samples")
    return self_hsic
