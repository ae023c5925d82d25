"""Phoneme recognition probes (PR): a linear CTC head on every frame of a layer (or of the
weighted sum of a model's frame-level layers), trained per learning rate with early stopping on
dev phone error rate (greedy decoding), scored on test with a bootstrap interval over
utterances. PER = edits / reference phones (torchaudio's edit distance).

Frames are held in memory: fine for the embedded corpus and small sets; LibriSpeech-scale
training would need the frame shards streamed by row group.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from strata.features.shards import read_shard, shard_path
from strata.probes.linear import best_lr
from strata.probes.metrics import ProbeOutcome, bootstrap, edit_counts, error_rate
from strata.probes.tasks import SPLITS

BLANK = 0


def read_frames(path) -> tuple[list[str], list[np.ndarray]]:
    """A frame shard as utterance ids and one (frames, dim) array each, in shard order."""
    ids, x = read_shard(path)
    starts = [0] + [i for i in range(1, len(ids)) if ids[i] != ids[i - 1]]
    bounds = [*starts, len(ids)]
    return [ids[i] for i in starts], [x[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _splits(manifest: pd.DataFrame, ids: list[str], label: str) -> dict[str, list[int]]:
    """Per split, positions (in ``ids``) of utterances with a non-empty phone sequence."""
    by_id = manifest.set_index("utt_id")
    pairs = list(zip(by_id["split"].reindex(ids), by_id[label].reindex(ids), strict=True))
    found = {s: [i for i, (sp, p) in enumerate(pairs) if sp == s and _phones(p)] for s in SPLITS}
    for name, rows in found.items():
        if not rows:
            raise ValueError(f"label {label!r}: no phone sequences in split {name!r}")
    return found


def _phones(value: Any) -> list[str]:
    missing = value is None or (isinstance(value, float) and np.isnan(value))
    return [] if missing else [str(p) for p in value]


def greedy(log_probs: torch.Tensor, length: int, vocab: list[str]) -> list[str]:
    """Best path: argmax per frame, repeats merged, blanks dropped."""
    out, previous = [], BLANK
    for token in log_probs[:length].argmax(-1).tolist():
        if token != previous and token != BLANK:
            out.append(vocab[token - 1])
        previous = token
    return out


class CTCProbe(nn.Module):
    """Frames of one layer (standardised) or of several (their weighted sum, ``width``) →
    linear → log-softmax over phones + blank."""

    def __init__(self, train: list[list[np.ndarray]], vocab: list[str], width: int | None):
        super().__init__()
        from strata.probes.weighted import WeightedSum

        stats = [(np.concatenate(f).mean(0), np.concatenate(f).std(0) + 1e-6) for f in train]
        self.vocab = vocab
        if width is None:
            self.front = WeightedSum(stats, stats[0][0].shape[0])
            self.front.projections = nn.ModuleList([nn.Identity()])  # a plain linear head
            self.front.logits.requires_grad_(False)
        else:
            self.front = WeightedSum(stats, width)
        self.head = nn.Linear(width or stats[0][0].shape[0], len(vocab) + 1)

    def forward(self, layers: list[list[np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = torch.tensor([len(f) for f in layers[0]])
        padded = []
        for frames in layers:
            x = torch.zeros(len(frames), int(lengths.max()), frames[0].shape[1])
            for row, f in enumerate(frames):
                x[row, : len(f)] = torch.from_numpy(np.asarray(f, np.float32))
            padded.append(x)
        return self.head(self.front(padded)).log_softmax(-1), lengths

    def decode(self, layers: list[list[np.ndarray]]) -> list[list[str]]:
        out = []
        with torch.no_grad():
            for start in range(0, len(layers[0]), 64):
                lp, lengths = self([f[start : start + 64] for f in layers])
                out += [greedy(p, int(n), self.vocab) for p, n in zip(lp, lengths, strict=True)]
        return out


def _take(layers: list[list[np.ndarray]], rows) -> list[list[np.ndarray]]:
    return [[frames[i] for i in rows] for frames in layers]


def train_ctc(layers, phones, rows, vocab, probe: dict, lr: float, width: int | None):
    """Train one head at ``lr``; keep the epoch with the lowest dev PER."""
    torch.manual_seed(probe["seed"])
    model = CTCProbe(_take(layers, rows["train"]), vocab, width)
    index = {p: i + 1 for i, p in enumerate(vocab)}
    gen = torch.Generator().manual_seed(probe["seed"])
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=probe["weight_decay"])
    loss_fn = nn.CTCLoss(blank=BLANK, zero_infinity=True)
    dev, train = rows["dev"], np.asarray(rows["train"])

    def dev_per() -> float:
        counts = edit_counts(model.decode(_take(layers, dev)), [phones[i] for i in dev])
        return error_rate(counts)(np.arange(len(dev)))

    best, best_epoch, best_state, epoch = float("inf"), 0, None, 0
    for epoch in range(1, probe["max_epochs"] + 1):
        for batch in torch.randperm(len(train), generator=gen).split(probe["batch_size"]):
            picked = train[batch.numpy()]
            log_probs, lengths = model(_take(layers, picked))
            targets = [torch.tensor([index[p] for p in phones[i]]) for i in picked]
            opt.zero_grad()
            loss = loss_fn(
                log_probs.transpose(0, 1),
                torch.cat(targets),
                lengths,
                torch.tensor([len(t) for t in targets]),
            )
            loss.backward()
            opt.step()
        per = dev_per()
        if per < best:
            best, best_epoch, best_state = per, epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= probe["patience"]:
            break
    model.load_state_dict(best_state)
    return model, best, best_epoch, epoch


def _fit(layers, ids, manifest, task, probe, width) -> tuple[ProbeOutcome, CTCProbe]:
    label = task.get("label", "phones")
    phones = [_phones(p) for p in manifest.set_index("utt_id")[label].reindex(ids)]
    rows = _splits(manifest, ids, label)
    vocab = sorted({p for i in rows["train"] for p in phones[i]})
    fits = {lr: train_ctc(layers, phones, rows, vocab, probe, lr, width) for lr in probe["lrs"]}
    lr = best_lr({lr: fit[1] for lr, fit in fits.items()}, higher_is_better=False)
    model, _, best_epoch, epochs_run = fits[lr]
    counts = {
        split: edit_counts(
            model.decode(_take(layers, rows[split])), [phones[i] for i in rows[split]]
        )
        for split in SPLITS
    }
    estimate = bootstrap(
        error_rate(counts["test"]),
        len(counts["test"]),
        probe["bootstrap"],
        probe["confidence"],
        probe["seed"],
    )
    state = {k: v.clone() for k, v in model.state_dict().items()} | {"vocab": vocab, "lr": lr}
    outcome = ProbeOutcome(
        metric="per",
        test=estimate,
        chance=1.0,  # an empty transcript: every reference phone deleted
        higher_is_better=False,
        scores={s: error_rate(c)(np.arange(len(c))) for s, c in counts.items()},
        lr=lr,
        dev_by_lr={str(k): fit[1] for k, fit in fits.items()},
        n={s: len(rows[s]) for s in SPLITS},
        extra={"num_phones": len(vocab), "best_epoch": best_epoch, "epochs_run": epochs_run},
        state=state,
    )
    return outcome, model


def _in_manifest_order(path, ids: list[str], manifest: pd.DataFrame) -> None:
    present = set(ids)
    if [u for u in manifest["utt_id"] if u in present] != ids:
        raise ValueError(f"{path}: utterances are not in manifest order")


def fit_phonemes(frames_path, manifest: pd.DataFrame, task: dict[str, Any], probe: dict):
    ids, frames = read_frames(frames_path)
    _in_manifest_order(frames_path, ids, manifest)
    return _fit([frames], ids, manifest, task, probe, width=None)[0]


def fit_weighted_phonemes(features, layers, manifest, task, probe) -> ProbeOutcome:
    """The weighted sum of ``layers`` (all frame-level, one frame rate) under a CTC head."""
    ids, all_frames, counts = None, [], []
    for layer in layers:
        path = shard_path(features, layer, "frame")
        layer_ids, frames = read_frames(path)
        if ids is not None and (layer_ids != ids or [len(f) for f in frames] != counts):
            raise ValueError(f"{path}: frames do not line up with {layers[0]!r}")
        ids, counts = layer_ids, [len(f) for f in frames]
        all_frames.append(frames)
    _in_manifest_order(features, ids, manifest)
    outcome, model = _fit(all_frames, ids, manifest, task, probe, probe["projection_width"])
    outcome.extra = {"layers": layers, **model.front.usage(), **outcome.extra}
    return outcome
