"""Ragged batches: utterances of different lengths in one padded tensor, computed exactly.

A padded batch gives every valid frame the value it has when its utterance runs alone, as long
as nothing that mixes time sees the padding. These helpers make the usual culprits
length-aware: means and variances over time (masked), "same" convolutions (each row padded at
its own end, by reflection or zeros, as the unpadded run would be), softmax over time (masked).
Time is the last axis throughout, (B, C, T), as in TDNNs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def time_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(B, 1, T) bool: True on each row's valid steps."""
    import torch

    return (torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None])[:, None, :]


def relative_lengths(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """SpeechBrain's relative lengths (length / steps), half a step short: it masks with
    ``arange(steps) < relative * steps`` in float32, where a rounding error upwards would let
    the first padded step in; half a step below selects exactly the valid ones."""
    return (lengths.float() - 0.5) / steps


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over time (B, C, 1) of the valid steps only."""
    m = mask.to(x.dtype)
    return (x * m).sum(-1, keepdim=True) / m.sum(-1, keepdim=True)


def masked_var(x: torch.Tensor, mask: torch.Tensor, correction: int = 0) -> torch.Tensor:
    """Variance over time (B, C, 1) of the valid steps; ``correction=1`` as ``torch.var``."""
    m = mask.to(x.dtype)
    n = m.sum(-1, keepdim=True)
    centred = (x - masked_mean(x, mask)) * m
    return (centred**2).sum(-1, keepdim=True) / (n - correction)


def pad_tails(
    x: torch.Tensor, lengths: torch.Tensor, width: int, mode: str, inplace: bool = False
) -> torch.Tensor:
    """Write into ``[L, L + width)`` of each row what padding that row alone would get there:
    its reflection (``F.pad(mode="reflect")``: x[L-2], x[L-3], ...) or zeros. ``x`` must extend
    at least ``width`` steps past the longest row; values beyond are left as they are.
    ``inplace`` writes into ``x`` itself: safe when nothing reads a row's steps past its
    length as data, which is what the padding region is for."""
    import torch

    if width == 0:
        return x
    too_short = (lengths <= width).nonzero().flatten().tolist()
    if mode == "reflect" and too_short:
        raise ValueError(
            f"utterances {too_short} are {lengths[too_short].tolist()} frames long, too short "
            f"for a reflect padding of {width}"
        )
    batch, channels, _ = x.shape
    offsets = torch.arange(width, device=x.device)[None, :]
    target = (lengths[:, None] + offsets)[:, None, :].expand(batch, channels, width)
    if mode == "reflect":
        source = (lengths[:, None] - 2 - offsets)[:, None, :].expand(batch, channels, width)
        values = x.gather(2, source)
    elif mode == "zeros":
        values = x.new_zeros(batch, channels, width)
    else:
        raise ValueError(f"unknown padding mode {mode!r}")
    return x.scatter_(2, target, values) if inplace else x.scatter(2, target, values)
