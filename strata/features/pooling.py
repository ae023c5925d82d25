"""Frame → utterance pooling over valid frames only (padding never enters a mean)."""

from __future__ import annotations

from collections.abc import Callable

import torch


def mean_pool(hidden: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, T, D) with valid lengths (B,) → (B, D) mean over each utterance's valid frames."""
    steps = torch.arange(hidden.shape[1], device=hidden.device)
    mask = (steps[None, :] < lengths[:, None]).to(hidden.dtype)
    return (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)


POOLING: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {"mean": mean_pool}
