"""The encoder contract, checked on real audio before a run trusts an encoder.

Every family's :class:`~strata.models.base.Encoder` promises, for a padded batch: exactly its
declared layers, in order; each (B, T, D) with the declared width D; frame-level layers about
``frame_rate`` frames a second, utterance-level ones T = 1; finite values; and valid frames that
do not depend on the padding. Extraction checks all of it on a small batch of the dataset's own
utterances (its shortest and longest among them, padded together, then each alone) before the
first real batch, so a broken encoder fails in seconds with an error that names the model, the
layer, what was declared and what came back — not the audio, which is not at fault.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from strata.models.base import ContractError, LayerSpec

if TYPE_CHECKING:
    import torch

# Frame counts may differ from frame_rate x seconds by a frame plus an analysis window at the
# edges (a 25 ms STFT window without centring loses 2.5 frames at 100 frames/s).
EDGE_SECONDS = 0.03
# Valid frames, batched versus alone, may differ by this much relative to the layer's largest
# value for that utterance (float32: numerical noise is ~1e-6; a leak of padding is far more).
PADDING_RTOL = 1e-3
# Utterances in the check batch: the shortest, the longest that fits, and some in between.
CHECK_UTTERANCES = 4
__all__ = ["ContractError", "check_batch", "check_layers", "check_padding", "nonfinite"]
FIX = "fix the encoder's layer_specs or its __call__ (docs/extending.md)"


def check_batch(num_samples: np.ndarray, max_samples: int) -> list[int]:
    """Indices of up to CHECK_UTTERANCES utterances of spread lengths whose padded batch fits
    ``max_samples`` (utterances x longest): the shortest always, so padding is exercised."""
    order = np.argsort(num_samples, kind="stable")
    fits = order[num_samples[order] * CHECK_UTTERANCES <= max_samples]
    pool = fits if len(fits) else order[:1]
    picks = np.unique(np.linspace(0, len(pool) - 1, CHECK_UTTERANCES).round().astype(int))
    return [int(i) for i in pool[picks]]


def check_layers(
    model: str,
    specs: list[LayerSpec],
    outputs: Any,
    lengths: torch.Tensor,
    sample_rate: int,
) -> list[LayerSpec]:
    """Check one batch's outputs against the declared layers; returns the specs with widths
    that were not declared filled in from what came back."""
    declared = [s.name for s in specs]
    if not isinstance(outputs, dict):
        raise ContractError(
            f"model {model!r}: the encoder returned a {type(outputs).__name__}, not a dict of "
            f"layer name -> LayerOutput; {FIX}"
        )
    returned = list(outputs)
    if returned != declared:
        missing = [n for n in declared if n not in outputs]
        extra = [n for n in returned if n not in declared]
        what = (
            f"missing {missing}" * bool(missing)
            + "; " * bool(missing and extra)
            + f"not declared {extra}" * bool(extra)
        ) or "in another order"
        raise ContractError(
            f"model {model!r}: layer_specs declare {declared}, the encoder returned {returned} "
            f"({what}); {FIX}"
        )
    return [_check_layer(model, spec, outputs[spec.name], lengths, sample_rate) for spec in specs]


def _check_layer(
    model: str, spec: LayerSpec, out: Any, lengths: torch.Tensor, sample_rate: int
) -> LayerSpec:
    where = f"model {model!r}, layer {spec.name!r}"
    hidden, frames = getattr(out, "hidden", None), getattr(out, "lengths", None)
    batch = len(lengths)
    if hidden is None or frames is None or hidden.ndim != 3 or hidden.shape[0] != batch:
        shape = None if hidden is None else tuple(hidden.shape)
        raise ContractError(
            f"{where}: expected a LayerOutput with hidden (batch={batch}, time, dim), got "
            f"{type(out).__name__} with hidden of shape {shape}; {FIX}"
        )
    steps, width = hidden.shape[1], hidden.shape[2]
    if spec.dim is not None and width != spec.dim:
        raise ContractError(f"{where}: declared width {spec.dim}, returned {width}; {FIX}")
    counts = [int(n) for n in frames.tolist()]
    if spec.frame_rate is None:
        if steps != 1 or counts != [1] * batch:
            raise ContractError(
                f"{where}: declared utterance-level (frame_rate None), so time must be 1 and "
                f"lengths 1; returned time {steps}, lengths {counts}; {FIX}"
            )
    else:
        _check_frames(where, spec.frame_rate, counts, steps, lengths.tolist(), sample_rate)
    return spec if spec.dim is not None else replace(spec, dim=int(width))


def _check_frames(
    where: str, rate: float, counts: list[int], steps: int, samples: list[int], sample_rate: int
) -> None:
    slack = 1 + rate * EDGE_SECONDS
    for row, (got, n) in enumerate(zip(counts, samples, strict=True)):
        expected = rate * n / sample_rate
        if not 0 <= got <= steps or abs(got - expected) > slack:
            raise ContractError(
                f"{where}: declared {rate:g} frames/s, so ~{expected:.1f} frames for "
                f"{n / sample_rate:.3f} s of audio (row {row} of the check batch); returned "
                f"{got} valid frames of {steps}; {FIX}"
            )


def nonfinite(outputs: dict[str, Any], utterances: list[str]) -> tuple[str, list[str]] | None:
    """(layer, utterances) of the first layer with NaN or infinite valid values, else None."""
    import torch

    from strata.models.ragged import time_mask

    for name, out in outputs.items():
        hidden = out.hidden
        valid = time_mask(out.lengths, hidden.shape[1]).transpose(1, 2)  # (B, T, 1)
        ok = (torch.isfinite(hidden) | ~valid).flatten(1).all(1)
        if not bool(ok.all()):
            return name, [u for u, good in zip(utterances, ok.tolist(), strict=True) if not good]
    return None


def check_padding(
    model: str,
    batched: dict[str, Any],
    alone: list[dict[str, Any]],
    utterances: list[str],
) -> None:
    """Each utterance's valid frames in the padded batch equal its run alone (``alone[i]``)."""
    for row, (single, utterance) in enumerate(zip(alone, utterances, strict=True)):
        for name, out in batched.items():
            where = f"model {model!r}, layer {name!r}: utterance {utterance}"
            n, padded = int(single[name].lengths[0]), int(out.lengths[row])
            if padded != n:
                raise ContractError(
                    f"{where} has {padded} valid frames padded in a batch, {n} alone; padding "
                    f"must not change an utterance's frames; {FIX}"
                )
            ref = single[name].hidden[0, :n].float()
            diff = float((out.hidden[row, :n].float() - ref).abs().max()) if n else 0.0
            scale = float(ref.abs().max()) if n else 0.0
            if diff > PADDING_RTOL * scale + 1e-6:
                raise ContractError(
                    f"{where}'s valid frames change by up to {diff:.3g} (largest value "
                    f"{scale:.3g}) when padded in a batch; "
                    f"padding must not leak into valid frames (mask it); {FIX}"
                )
