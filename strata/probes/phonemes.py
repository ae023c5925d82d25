"""Phoneme recognition probes (PR): a linear CTC head on every frame of a layer (or of the
weighted sum of a model's frame-level layers), trained per learning rate with early stopping on
dev phone error rate (greedy decoding), scored on test with a bootstrap interval over
utterances. PER = edits / reference phones (torchaudio's edit distance).

A layer's frames stay one flat (frames, dim) tensor, read once; a batch is gathered from it by
index (no per-utterance copies). They are held in memory: fine for the embedded corpus and
small sets; LibriSpeech-scale training would need the frame shards streamed by row group.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from strata.features.shards import read_shard, shard_path
from strata.probes.linear import best_lr
from strata.probes.metrics import ProbeOutcome, bootstrap, edit_counts, error_rate, per
from strata.probes.tasks import SPLITS, split_column_of

BLANK = 0
DECODE_BATCH = 256


@dataclass
class Frames:
    """One layer's frames: a flat (frames, dim) tensor and each utterance's start and length."""

    flat: torch.Tensor
    starts: np.ndarray
    lengths: np.ndarray
    mean: np.ndarray | None = None  # set by standardise
    std: np.ndarray | None = None

    def batch(self, rows: np.ndarray) -> torch.Tensor:
        """(len(rows), longest, dim), zero past each utterance's end."""
        lengths = torch.from_numpy(self.lengths[rows])
        steps = torch.arange(int(lengths.max()))
        index = torch.from_numpy(self.starts[rows])[:, None] + steps
        inside = steps < lengths[:, None]
        x = self.flat[index.clamp(max=len(self.flat) - 1)]
        return x * inside[..., None]

    def standardise(self, rows: np.ndarray) -> None:
        """In place, by the statistics of ``rows`` (train): once, not on every batch."""
        self.mean, self.std = self.stats(rows)
        self.flat.sub_(torch.from_numpy(self.mean.astype(np.float32)))
        self.flat.div_(torch.from_numpy(self.std.astype(np.float32)))

    def stats(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std over every frame of ``rows`` (float64 sums, dead units stay finite)."""
        picked = torch.cat(
            [
                self.flat[s : s + n]
                for s, n in zip(self.starts[rows], self.lengths[rows], strict=True)
            ]
        )
        x = picked.double()
        return x.mean(0).numpy(), x.std(0, correction=0).numpy() + 1e-6


def read_frames(path) -> tuple[list[str], Frames]:
    """A frame shard as utterance ids (shard order) and their :class:`Frames`."""
    ids, x = read_shard(path)
    starts = [0] + [i for i in range(1, len(ids)) if ids[i] != ids[i - 1]]
    lengths = np.diff([*starts, len(ids)])
    frames = Frames(torch.from_numpy(x), np.asarray(starts, np.int64), lengths.astype(np.int64))
    return [ids[i] for i in starts], frames


def _splits(manifest: pd.DataFrame, ids: list[str], label: str, split: str):
    """Per split, positions (in ``ids``) of utterances with a non-empty phone sequence."""
    by_id = manifest.set_index("utt_id")
    pairs = list(zip(by_id[split].reindex(ids), by_id[label].reindex(ids), strict=True))
    found = {s: [i for i, (sp, p) in enumerate(pairs) if sp == s and _phones(p)] for s in SPLITS}
    for name, rows in found.items():
        if not rows:
            raise ValueError(f"label {label!r}: no phone sequences in split {name!r}")
    return {s: np.asarray(rows, np.int64) for s, rows in found.items()}


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


class FrameWeightedSum(nn.Module):
    """Σ_l softmax(w)_l · A_l x_l over frames already standardised by (μ_l, σ_l), each x_l
    (batch, frames, D_l): the torch twin of :class:`strata.probes.nets.WeightedSum` (CTC needs
    autograd). μ_l and σ_l are buffers so the checkpoint can standardise new frames."""

    def __init__(self, stats: list[tuple[np.ndarray, np.ndarray]], width: int | None):
        super().__init__()
        for i, (mean, std) in enumerate(stats):
            self.register_buffer(f"mean_{i}", torch.from_numpy(mean.astype(np.float32)))
            self.register_buffer(f"std_{i}", torch.from_numpy(std.astype(np.float32)))
        self.single = width is None  # one layer passed through as it is
        self.projections = nn.ModuleList(
            nn.Identity() if self.single else nn.Linear(len(mean), width) for mean, _ in stats
        )
        self.logits = nn.Parameter(torch.zeros(len(stats)), requires_grad=not self.single)

    def forward(self, layers: list[torch.Tensor]) -> torch.Tensor:
        if self.single:
            return layers[0]
        weights = self.logits.softmax(0)
        total = 0
        for i, (x, projection) in enumerate(zip(layers, self.projections, strict=True)):
            total = total + weights[i] * projection(x)
        return total

    def usage(self, layers: list[Frames], rows: np.ndarray) -> dict[str, list[float]]:
        """:func:`strata.probes.nets.usage_record` on the frames of ``rows`` (dev): each
        layer's term w_l A_l x_l summed in squares over real frames, a batch at a time."""
        from strata.probes.nets import usage_record

        weights = self.logits.softmax(0).detach().double()
        squares = torch.zeros(len(layers), dtype=torch.float64)
        with torch.no_grad():
            for start in range(0, len(rows), DECODE_BATCH):
                picked = rows[start : start + DECODE_BATCH]
                for i, (frames, projection) in enumerate(
                    zip(layers, self.projections, strict=True)
                ):
                    term = frames.batch(picked) @ projection.weight.T  # padding rows stay zero
                    squares[i] += term.double().square().sum()
        norms = [p.weight.detach().norm().item() for p in self.projections]
        return usage_record(weights.numpy(), norms, (weights * squares.sqrt()).numpy())


def length_batches(
    lengths: np.ndarray, rows: np.ndarray, size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """``rows`` in batches of similar length (little padding), ties and batch order shuffled."""
    order = rows[np.lexsort((rng.random(len(rows)), lengths[rows]))]
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    return [batches[i] for i in rng.permutation(len(batches))]


class CTCProbe(nn.Module):
    """Frames of one layer (standardised) or of several (their weighted sum, ``width``) →
    linear → log-softmax over phones + blank."""

    def __init__(self, stats: list[tuple[np.ndarray, np.ndarray]], vocab: list[str], width):
        super().__init__()
        self.vocab = vocab
        self.front = FrameWeightedSum(stats, width)  # width None: one layer, a plain head
        self.head = nn.Linear(width or stats[0][0].shape[0], len(vocab) + 1)

    def forward(self, layers: list[Frames], rows: np.ndarray) -> torch.Tensor:
        return self.head(self.front([f.batch(rows) for f in layers])).log_softmax(-1)

    def decode(self, layers: list[Frames], rows: np.ndarray) -> list[list[str]]:
        """Greedy transcripts of ``rows``, in that order (decoded in length order)."""
        order = np.argsort(layers[0].lengths[rows], kind="stable")
        out: list[list[str]] = [[] for _ in rows]
        with torch.no_grad():
            for start in range(0, len(rows), DECODE_BATCH):
                picked = order[start : start + DECODE_BATCH]
                log_probs = self(layers, rows[picked])
                lengths = layers[0].lengths[rows[picked]]
                for i, lp, n in zip(picked, log_probs, lengths, strict=True):
                    out[i] = greedy(lp, int(n), self.vocab)
        return out


def train_ctc(layers: list[Frames], phones, rows, vocab, probe: dict, lr: float, width):
    """Train one head at ``lr`` on standardised frames; keep the epoch with the lowest dev PER.
    AdamW is :class:`strata.probes.nets.AdamW` on the tensors (torch.optim would import
    torch._dynamo: seconds per job)."""
    from strata.probes.nets import AdamW

    torch.manual_seed(probe["seed"])
    rng = np.random.default_rng(probe["seed"])
    model = CTCProbe([(f.mean, f.std) for f in layers], vocab, width)
    index = {p: i + 1 for i, p in enumerate(vocab)}
    targets = {i: torch.tensor([index[p] for p in phones[i]]) for i in rows["train"]}
    params = [p for p in model.parameters() if p.requires_grad]
    opt = AdamW({str(i): p.data for i, p in enumerate(params)}, lr, probe["weight_decay"])
    loss_fn = nn.CTCLoss(blank=BLANK, zero_infinity=True)
    dev, lengths = rows["dev"], layers[0].lengths
    dev_phones = [phones[i] for i in dev]

    best, best_epoch, best_state, epoch = float("inf"), 0, None, 0
    for epoch in range(1, probe["max_epochs"] + 1):
        for picked in length_batches(lengths, rows["train"], probe["batch_size"], rng):
            wanted = [targets[i] for i in picked]
            loss = loss_fn(
                model(layers, picked).transpose(0, 1),
                torch.cat(wanted),
                torch.from_numpy(lengths[picked]),
                torch.tensor([len(t) for t in wanted]),
            )
            for p in params:
                p.grad = None
            loss.backward()
            opt.step({str(i): p.grad for i, p in enumerate(params)})
        dev_per = per(edit_counts(model.decode(layers, dev), dev_phones))
        if dev_per < best:
            best, best_epoch, best_state = dev_per, epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= probe["patience"]:
            break
    model.load_state_dict(best_state)
    return model, best, best_epoch, epoch


def _fit(layers: list[Frames], ids, manifest, task, probe, width):
    """The outcome, the chosen head, and the rows of each split (positions in ``ids``)."""
    label = task.get("label", "phones")
    phones = [_phones(p) for p in manifest.set_index("utt_id")[label].reindex(ids)]
    rows = _splits(manifest, ids, label, split_column_of(task))
    vocab = sorted({p for i in rows["train"] for p in phones[i]})
    for frames in layers:
        frames.standardise(rows["train"])
    fits = {lr: train_ctc(layers, phones, rows, vocab, probe, lr, width) for lr in probe["lrs"]}
    lr = best_lr({lr: fit[1] for lr, fit in fits.items()}, higher_is_better=False)
    model, _, best_epoch, epochs_run = fits[lr]
    counts = {
        split: edit_counts(model.decode(layers, rows[split]), [phones[i] for i in rows[split]])
        for split in SPLITS
    }
    estimate = bootstrap(
        error_rate(counts["test"]),
        np.arange(len(counts["test"])),  # utterances: an utterance's phones move together
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
        scores={s: per(c) for s, c in counts.items()},
        lr=lr,
        dev_by_lr={str(k): fit[1] for k, fit in fits.items()},
        n={s: len(rows[s]) for s in SPLITS},
        extra={"num_phones": len(vocab), "best_epoch": best_epoch, "epochs_run": epochs_run},
        state=state,
    )
    return outcome, model, rows


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
    ids, all_frames = None, []
    for layer in layers:
        path = shard_path(features, layer, "frame")
        layer_ids, frames = read_frames(path)
        if ids is not None and (
            layer_ids != ids or not np.array_equal(frames.lengths, all_frames[0].lengths)
        ):
            raise ValueError(f"{path}: frames do not line up with {layers[0]!r}")
        ids = layer_ids
        all_frames.append(frames)
    _in_manifest_order(features, ids, manifest)
    outcome, model, rows = _fit(all_frames, ids, manifest, task, probe, probe["projection_width"])
    usage = model.front.usage(all_frames, rows["dev"])
    outcome.extra = {"layers": layers, **usage, **outcome.extra}
    return outcome
