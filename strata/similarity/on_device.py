"""Linear CKA's inner products on a torch device (a GPU), the same sums as the numpy paths in
:mod:`strata.similarity.linear`: Gram blocks in float32 GEMMs, their products and the
feature-space path in float64. Results come back as numpy float64; the O(n) statistics
(centring, row sums) stay on the CPU, where :func:`linear.centre_layers` made them.

A layer set is uploaded once per device and kept on it (``Layers.on_device``), so a side that is
compared again (a permutation null shuffles only the other side) is not sent twice.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from strata.similarity.linear import BLOCK_ROWS, Layers, block_pairs


def products(device: str):
    """:func:`linear.numpy_products`' counterpart on ``device`` (for ``linear_cka_matrix``)."""
    return partial(inner_products, device=device)


def _tensors(layers: Layers, device: str) -> list:
    import torch

    if device not in layers.on_device:
        layers.on_device[device] = [torch.from_numpy(x).to(device) for x in layers.data]
    return layers.on_device[device]


def inner_products(
    a: Layers, b: Layers | None, path: str, zero_diagonal: bool, device: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(⟨K_a, K_b⟩ per pair, ⟨K_a, K_a⟩, ⟨K_b, K_b⟩) as :func:`linear.block_inner_products`
    (``path`` "gram", ``zero_diagonal`` as there) or :func:`linear.feature_inner_products`
    (``path`` "features": full Grams, the caller removes the diagonal)."""
    import torch

    with torch.no_grad():
        xa = _tensors(a, device)
        xb = xa if b is None else _tensors(b, device)
        sums = _gram(xa, xb, zero_diagonal) if path == "gram" else _features(xa, xb)
    return tuple(s.cpu().numpy() for s in sums)  # type: ignore[return-value]


def _gram(xa: list, xb: list, zero_diagonal: bool, block: int = BLOCK_ROWS):
    import torch

    device = xa[0].device
    cross = torch.zeros(len(xa), len(xb), dtype=torch.float64, device=device)
    sq_a = torch.zeros(len(xa), dtype=torch.float64, device=device)
    sq_b = torch.zeros(len(xb), dtype=torch.float64, device=device)

    def grams(xs, i0, i1, j0, j1):  # (L, |I|·|J|) float64: each layer's block X[I] X[J]ᵀ
        stack = torch.stack([x[i0:i1] @ x[j0:j1].T for x in xs])
        if zero_diagonal and i0 == j0:
            stack.diagonal(dim1=1, dim2=2).zero_()
        return stack.reshape(len(xs), -1).double()

    for i0, i1, j0, j1, weight in block_pairs(len(xa[0]), block):
        ga = grams(xa, i0, i1, j0, j1)
        gb = ga if xb is xa else grams(xb, i0, i1, j0, j1)
        cross += weight * (ga @ gb.T)
        sq_a += weight * (ga * ga).sum(dim=1)
        sq_b += weight * (gb * gb).sum(dim=1)
    return cross, sq_a, sq_b


def _features(xa: list, xb: list):
    """‖XᵀY‖²_F per pair in float64: all of A's layers stacked, one GEMM per layer of B."""
    import torch

    stacked = torch.cat([x.double() for x in xa], dim=1)
    widths = [x.shape[1] for x in xa]
    cross = torch.empty(len(xa), len(xb), dtype=torch.float64, device=stacked.device)
    for j, y in enumerate(xb):
        per_unit = ((stacked.T @ y.double()) ** 2).sum(dim=1)
        cross[:, j] = torch.stack([part.sum() for part in per_unit.split(widths)])

    def own(xs):
        return torch.stack([torch.linalg.matrix_norm(x.double().T @ x.double()) ** 2 for x in xs])

    if xb is xa:
        return cross, torch.diag(cross).clone(), torch.diag(cross).clone()
    return cross, own(xa), own(xb)
