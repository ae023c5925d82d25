"""Training the three model families the paper compares, as workflow rules.

A model with ``init: trained`` is drawn from its family's random init (its ``seed``) and trained
by one objective on the training split of a configured dataset; the checkpoint lands in the
layout its adapter already loads, so probing and similarity treat it like any real checkpoint:

- ``masked_prediction``: HuBERT-style masked prediction of k-means cluster targets (MFCCs, or a
  trained model's layer for a second iteration) for waveform transformers (WavLM, HuBERT...).
- ``dino``: DINO self-distillation for ECAPA-TDNN (crops, EMA teacher, centring, sharpening,
  noise and speed/volume augmentation, no labels).
- ``aam_softmax``: supervised ECAPA-TDNN with an additive angular margin softmax on speakers.
"""

from __future__ import annotations

from pathlib import Path

# What a training run writes beside its checkpoint (strata.training.run).
LOSSES = "losses.parquet"
SUMMARY = "training.json"
SNAPSHOTS = "snapshots"  # kept epochs: in the resumable state while training, then beside these


def snapshot_dir(root: Path, epoch: int) -> Path:
    """Where the weights after ``epoch`` epochs are kept (0: the random init)."""
    return Path(root) / SNAPSHOTS / f"e{epoch}"


# objective -> "module:Class" (lazy: torch stays out of parse time).
OBJECTIVES: dict[str, str] = {
    "masked_prediction": "strata.training.masked:MaskedPrediction",
    "dino": "strata.training.dino:Dino",
    "aam_softmax": "strata.training.aam:AamSoftmax",
}
# The model family each objective trains.
FAMILY_OF: dict[str, str] = {
    "masked_prediction": "hf_transformers",
    "dino": "speechbrain_ecapa",
    "aam_softmax": "speechbrain_ecapa",
}
