"""The training loop every objective shares: seeded epochs, AdamW with warm-up and cosine decay,
a resumable state after every epoch, the weights of the epochs asked for (``snapshots``), a
progress bar, and the loss table.

Every random draw of an epoch (order, crops, masks, augmentation, dropout) is seeded by
(seed, epoch), so a run killed mid-epoch and resumed from its last finished epoch ends with
exactly the weights of an uninterrupted run.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from strata.io import atomic_path
from strata.training import snapshot_dir

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)
STATE = "state.pt"


class Objective(Protocol):
    """What the loop needs from a training objective (a torch Module holding every tensor
    that must survive a restart: networks, heads, EMA teacher, centre)."""

    steps_per_epoch: int

    def batches(self, epoch: int) -> Iterator[Any]: ...
    def loss(self, batch: Any) -> torch.Tensor: ...
    def after_step(self, step: int, total: int) -> None: ...
    def save(self, out_dir: Path) -> Path: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> Any: ...
    def parameters(self) -> Iterator[torch.nn.Parameter]: ...
    def train(self, mode: bool = True) -> Any: ...


def lr_factor(step: int, total: int, warmup: float) -> float:
    """Linear warm-up over ``warmup`` of the steps, then cosine decay to zero."""
    ramp = max(1, round(total * warmup))
    if step < ramp:
        return (step + 1) / ramp
    return 0.5 * (1 + math.cos(math.pi * (step - ramp) / max(1, total - ramp)))


def _optimiser(objective: Objective, cfg: dict[str, Any], total: int):
    import torch

    params = [p for p in objective.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    warmup = cfg["warmup_fraction"]
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, warmup))
    return opt, sched


def _resume(state_dir: Path, digest: str, objective, opt, sched) -> tuple[int, list[dict]]:
    """The next epoch and the loss rows so far, from a state this very config wrote."""
    import torch

    path = state_dir / STATE
    if not path.exists():
        return 0, []
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state["config_sha256"] != digest:
        log.warning("%s: written for another config; starting afresh", path)
        return 0, []
    objective.load_state_dict(state["objective"])
    opt.load_state_dict(state["optimiser"])
    sched.load_state_dict(state["scheduler"])
    log.info("resuming from %s after epoch %d", path, state["epoch"])
    return state["epoch"], state["losses"]


def _save_state(state_dir: Path, digest: str, epoch: int, losses, objective, opt, sched) -> None:
    import torch

    state = {
        "config_sha256": digest,
        "epoch": epoch,
        "losses": losses,
        "objective": objective.state_dict(),
        "optimiser": opt.state_dict(),
        "scheduler": sched.state_dict(),
    }
    with atomic_path(state_dir / STATE) as tmp:
        torch.save(state, tmp)


def fit(
    objective: Objective,
    cfg: dict[str, Any],
    state_dir: Path,
    digest: str,
    progress: bool = True,
    stop_after: int | None = None,
) -> list[dict[str, Any]]:
    """Train for ``cfg["epochs"]``, resuming from ``state_dir`` when a killed run left a state
    there; return one row per step (epoch, step, loss, lr, seconds). ``stop_after`` steps ends
    the run early, schedule unchanged and no state saved (to check a run's first steps). The
    weights after each epoch in ``cfg["snapshots"]`` go to :func:`snapshot_dir` of
    ``state_dir``, in the family's checkpoint layout; saving them draws nothing at random."""
    import torch
    from tqdm import tqdm

    total = cfg["epochs"] * objective.steps_per_epoch
    opt, sched = _optimiser(objective, cfg, total)
    start, losses = _resume(state_dir, digest, objective, opt, sched)
    params = [p for p in objective.parameters() if p.requires_grad]
    keep = set(cfg.get("snapshots", [])) if stop_after is None else set()
    if start == 0 and 0 in keep:
        objective.save(snapshot_dir(state_dir, 0))
    for epoch in range(start, cfg["epochs"]):
        torch.manual_seed(cfg["seed"] * 100_003 + epoch)  # dropout, layer drop
        objective.train()
        bar = tqdm(
            objective.batches(epoch),
            total=objective.steps_per_epoch,
            desc=f"epoch {epoch + 1}/{cfg['epochs']}",
            disable=not progress,
            mininterval=5,
        )
        began = time.perf_counter()
        for i, batch in enumerate(bar):
            step = epoch * objective.steps_per_epoch + i
            loss = objective.loss(batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {loss.item()} at epoch {epoch + 1}, step {i}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg["grad_clip"])
            row = {"epoch": epoch + 1, "step": step + 1, "lr": sched.get_last_lr()[0]}
            opt.step()
            sched.step()
            objective.after_step(step, total)
            losses.append(row | {"loss": loss.item(), "seconds": time.perf_counter() - began})
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
            if stop_after is not None and len(losses) >= stop_after:
                return losses
        mean = (
            sum(r["loss"] for r in losses[-objective.steps_per_epoch :]) / objective.steps_per_epoch
        )
        log.info("epoch %d/%d: mean loss %.4f", epoch + 1, cfg["epochs"], mean)
        if epoch + 1 in keep:
            objective.save(snapshot_dir(state_dir, epoch + 1))
        _save_state(state_dir, digest, epoch + 1, losses, objective, opt, sched)
    objective.eval()
    return losses
