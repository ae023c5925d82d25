"""Phoneme recognition probes (PR): a linear CTC head on every frame of a layer (or of the
weighted sum of a model's frame-level layers), trained per learning rate with early stopping on
dev phone error rate (greedy decoding), scored on test with a bootstrap interval over
utterances. PER = edits / reference phones (torchaudio's edit distance).

Frames come from a :class:`FrameSource`: when every utterance the probe reads fits
``probe.buffer_mb`` (float32, all its layers) they are read once and stay in memory, one flat
(frames, dim) tensor per layer that batches are gathered from by index; otherwise each pass
streams the shards by row group, a buffer of utterances at a time (train in random block order,
batches shuffled within each block), so peak memory is set by the buffer, not by the corpus.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from strata.features.shards import shard_path
from strata.features.stream import FrameIndex, blocks, index_frames, read_utterances
from strata.probes.limits import DECODE_FRAMES, DEFAULT_BUFFER_MB, MOMENT_ROWS
from strata.probes.linear import best_lr
from strata.probes.metrics import ProbeOutcome, bootstrap, error_rate, per
from strata.probes.nets import at_cap
from strata.probes.tasks import SPLITS, split_column_of
from strata.workflow import fix_malloc_mmap_threshold, resolve_device, trim_heap

BLANK = 0


@dataclass
class Frames:
    """Frames of one layer in memory: a flat (frames, dim) tensor and, per utterance (its
    position in the shard), where its frames start and how many there are."""

    flat: torch.Tensor
    starts: np.ndarray
    lengths: np.ndarray
    mean: np.ndarray | None = None  # set by standardise
    std: np.ndarray | None = None

    def batch(self, rows: np.ndarray) -> torch.Tensor:
        """(len(rows), longest, dim), zero past each utterance's end: one copy of views."""
        starts, lengths = self.starts[rows].tolist(), self.lengths[rows].tolist()
        pieces = [self.flat[s : s + n] for s, n in zip(starts, lengths, strict=True)]
        return nn.utils.rnn.pad_sequence(pieces, batch_first=True)

    def standardise(self, rows: np.ndarray) -> None:
        """In place, by the statistics of ``rows`` (train): once, not on every batch."""
        self.apply(*self.stats(rows))

    def apply(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean, self.std = mean, std
        self.flat.sub_(torch.from_numpy(mean.astype(np.float32)))
        self.flat.div_(torch.from_numpy(std.astype(np.float32)))

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


class FrameSource:
    """Aligned frame-level layers (same utterances, same lengths) served in blocks of
    utterances that fit ``buffer_bytes`` (float32, all layers together). When every utterance
    a probe reads fits, they are read once and stay (standardised once, one block per pass);
    otherwise each pass re-reads the shards a block at a time, so memory is set by the buffer,
    not by the corpus."""

    def __init__(self, indexes: list[FrameIndex], buffer_bytes: int):
        first = indexes[0]
        for other in indexes[1:]:
            if other.ids != first.ids or not np.array_equal(other.lengths, first.lengths):
                raise ValueError(f"{other.path}: frames do not line up with {first.path}")
        self.indexes, self.lengths = indexes, first.lengths
        self.frames_per_block = max(1, buffer_bytes // (4 * sum(i.dim for i in indexes)))
        self.resident: list[Frames] | None = None
        self.stats: list[tuple[np.ndarray, np.ndarray]] = []

    @property
    def streamed(self) -> bool:
        return self.resident is None

    def prepare(self, rows: dict[str, np.ndarray]) -> None:
        """Standardise by the train rows' statistics: in memory if every split's rows fit the
        buffer, else by one streaming pass over train."""
        every = np.sort(np.concatenate(list(rows.values())))
        if self.lengths[every].sum() <= self.frames_per_block:
            self.resident = [self._read(every, i) for i in range(len(self.indexes))]
            for frames in self.resident:
                frames.standardise(rows["train"])
            self.stats = [(f.mean, f.std) for f in self.resident]
            return
        moments = [Moments(i.dim) for i in self.indexes]
        for block in blocks(self.lengths, rows["train"], self.frames_per_block):
            for i, m in enumerate(moments):
                m.add(read_utterances(self.indexes[i], block))
        self.stats = [m.result() for m in moments]

    def blocks(self, rows: np.ndarray, rng: np.random.Generator | None = None):
        """(rows, layers) pairs covering ``rows``: in order, or in random order given ``rng``
        (resident frames: one block, and ``rng`` is left untouched)."""
        if self.resident is not None:
            yield rows, self.resident
            return
        parts = blocks(self.lengths, np.sort(rows), self.frames_per_block)
        order = range(len(parts)) if rng is None else rng.permutation(len(parts))
        for k in order:
            layers = []
            for i, (mean, std) in enumerate(self.stats):
                frames = self._read(parts[k], i)
                frames.apply(mean, std)
                layers.append(frames)
            yield parts[k], layers
            layers.clear()  # the caller's reference too: one block in memory, not two

    def _read(self, rows: np.ndarray, layer: int) -> Frames:
        x = torch.from_numpy(read_utterances(self.indexes[layer], rows))
        starts = np.zeros(len(self.lengths), np.int64)
        starts[rows] = np.concatenate([[0], np.cumsum(self.lengths[rows])[:-1]])
        return Frames(x, starts, self.lengths)


class Moments:
    """Per-dimension mean and std over rows added in chunks (Chan et al.'s pairwise update,
    float64), so one pass over a streamed split gives what one in-memory pass gives."""

    CHUNK = MOMENT_ROWS

    def __init__(self, dim: int):
        self.n, self.mean, self.m2 = 0, np.zeros(dim), np.zeros(dim)

    def add(self, x: np.ndarray) -> None:
        for start in range(0, len(x), self.CHUNK):
            chunk = x[start : start + self.CHUNK].astype(np.float64)
            n, mean = len(chunk), chunk.mean(0)
            m2 = np.square(chunk - mean).sum(0)
            total = self.n + n
            delta = mean - self.mean
            self.mean = self.mean + delta * n / total
            self.m2 = self.m2 + m2 + np.square(delta) * self.n * n / total
            self.n = total

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        return self.mean, np.sqrt(self.m2 / self.n) + 1e-6


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


def edit_counts(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]]):
    """Per utterance (edits, reference length), for a phone error rate over any subset.
    Levenshtein distance is rapidfuzz's (C++; tested equal to torchaudio's): every epoch's dev
    PER needs it, and torchaudio's pure-Python one took an eighth of a probe's time."""
    from rapidfuzz.distance import Levenshtein

    return np.array(
        [[Levenshtein.distance(r, h), len(r)] for h, r in zip(hypotheses, references, strict=True)],
        dtype=np.float64,
    )


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

    def __init__(self, stats: list[tuple[np.ndarray, np.ndarray]], width: int):
        super().__init__()
        for i, (mean, std) in enumerate(stats):
            self.register_buffer(f"mean_{i}", torch.from_numpy(mean.astype(np.float32)))
            self.register_buffer(f"std_{i}", torch.from_numpy(std.astype(np.float32)))
        self.projections = nn.ModuleList(nn.Linear(len(mean), width) for mean, _ in stats)
        # One layer: its softmax weight is 1 whatever the logit, so there is nothing to learn.
        self.logits = nn.Parameter(torch.zeros(len(stats)), requires_grad=len(stats) > 1)

    def forward(self, layers: list[torch.Tensor]) -> torch.Tensor:
        if len(layers) == 1:  # its weight is exactly 1: the projection alone, bit for bit
            return self.projections[0](layers[0])
        weights = self.logits.softmax(0)
        total = 0
        for i, (x, projection) in enumerate(zip(layers, self.projections, strict=True)):
            total = total + weights[i] * projection(x)
        return total

    def usage(self, source: FrameSource, rows: np.ndarray) -> dict[str, list[float]]:
        """:func:`strata.probes.nets.usage_record` on the frames of ``rows`` (dev): each
        layer's term w_l A_l x_l summed in squares over real frames, a batch at a time."""
        from strata.probes.nets import usage_record

        weights = self.logits.softmax(0).detach().double().cpu()
        squares = torch.zeros(len(self.projections), dtype=torch.float64)
        with torch.no_grad():
            for block_rows, layers in source.blocks(rows):
                for picked in decode_batches(source.lengths[block_rows]):
                    picked = block_rows[picked]
                    for i, (frames, projection) in enumerate(
                        zip(layers, self.projections, strict=True)
                    ):
                        x = frames.batch(picked).to(projection.weight.device)
                        term = x @ projection.weight.T  # padding rows stay zero
                        squares[i] += term.double().square().sum().cpu()
        norms = [p.weight.detach().norm().item() for p in self.projections]
        return usage_record(weights.numpy(), norms, (weights * squares.sqrt()).numpy())


def decode_batches(lengths: np.ndarray) -> Iterator[np.ndarray]:
    """Positions in ``lengths``, in length order, cut so that no batch pads past
    :data:`DECODE_FRAMES` frames (an utterance longer than that alone)."""
    batch: list[int] = []
    for i in np.argsort(lengths, kind="stable"):
        if batch and (len(batch) + 1) * lengths[i] > DECODE_FRAMES:  # i: the longest yet
            yield np.asarray(batch)
            batch = []
        batch.append(int(i))
    if batch:
        yield np.asarray(batch)


def length_batches(
    lengths: np.ndarray, rows: np.ndarray, size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """``rows`` in batches of similar length (little padding), ties and batch order shuffled."""
    order = rows[np.lexsort((rng.random(len(rows)), lengths[rows]))]
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    return [batches[i] for i in rng.permutation(len(batches))]


class CTCProbe(nn.Module):
    """Frames of one layer or of several (standardised, projected to ``width``, mixed) →
    linear → log-softmax over phones + blank: one layer is the weighted sum restricted to it."""

    def __init__(self, stats: list[tuple[np.ndarray, np.ndarray]], vocab: list[str], width: int):
        super().__init__()
        self.vocab = vocab
        self.front = FrameWeightedSum(stats, width)
        self.head = nn.Linear(width, len(vocab) + 1)

    def forward(self, layers: list[Frames], rows: np.ndarray) -> torch.Tensor:
        device = self.head.weight.device
        return self.head(self.front([f.batch(rows).to(device) for f in layers])).log_softmax(-1)

    def decode(self, source: FrameSource, rows: np.ndarray) -> list[list[str]]:
        """Greedy transcripts of ``rows`` (ascending), in that order; each block decoded in
        length order."""
        out: list[list[str]] = []
        with torch.no_grad():
            for block_rows, layers in source.blocks(rows):
                block: list[list[str]] = [[] for _ in block_rows]
                for picked in decode_batches(source.lengths[block_rows]):
                    log_probs = self(layers, block_rows[picked]).cpu()
                    lengths = source.lengths[block_rows[picked]]
                    for i, lp, n in zip(picked, log_probs, lengths, strict=True):
                        block[i] = greedy(lp, int(n), self.vocab)
                out.extend(block)
        return out


def train_ctc(
    source: FrameSource, phones, rows, vocab, probe: dict, lr: float, width, history=None
):
    """Train one head at ``lr`` on standardised frames; keep the epoch with the lowest dev PER,
    multiplying the rate by ``lr_decay`` after each epoch that is not the best.
    Batches are drawn within each block (all of train when it fits the buffer), blocks in a
    fresh random order each epoch. AdamW is :class:`strata.probes.nets.AdamW` on the tensors
    (torch.optim would import torch._dynamo: seconds per job)."""
    from strata.probes.nets import AdamW

    torch.manual_seed(probe["seed"])
    rng = np.random.default_rng(probe["seed"])
    device = resolve_device(probe.get("device", "auto"))
    model = CTCProbe(source.stats, vocab, width).to(device)
    index = {p: i + 1 for i, p in enumerate(vocab)}
    targets = {i: torch.tensor([index[p] for p in phones[i]]) for i in rows["train"]}
    params = [p for p in model.parameters() if p.requires_grad]
    opt = AdamW({str(i): p.data for i, p in enumerate(params)}, lr, probe["weight_decay"])
    loss_fn = nn.CTCLoss(blank=BLANK, zero_infinity=True)
    dev, lengths = rows["dev"], source.lengths
    dev_phones = [phones[i] for i in dev]

    best, best_epoch, best_state, epoch = float("inf"), 0, None, 0
    for epoch in range(1, probe["max_epochs"] + 1):
        for block_rows, layers in source.blocks(rows["train"], rng):
            for picked in length_batches(lengths, block_rows, probe["batch_size"], rng):
                wanted = [targets[i] for i in picked]
                loss = loss_fn(
                    model(layers, picked).transpose(0, 1),
                    torch.cat(wanted).to(device),
                    torch.from_numpy(lengths[picked]).to(device),
                    torch.tensor([len(t) for t in wanted], device=device),
                )
                for p in params:
                    p.grad = None
                loss.backward()
                opt.step({str(i): p.grad for i, p in enumerate(params)})
        dev_per = per(edit_counts(model.decode(source, dev), dev_phones))
        if history is not None:  # the convergence study's curve (make bench)
            history.append(dev_per)
        if dev_per < best:
            best, best_epoch, best_state = dev_per, epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= probe["patience"]:
            break
        else:  # a plateau: a smaller step (lr_decay 1 keeps the rate)
            opt.lr *= probe.get("lr_decay", 1.0)
    model.load_state_dict(best_state)
    trim_heap()  # the fit's freed batches (reused epoch after epoch): back to the kernel
    return model, best, best_epoch, epoch


def _fit(source: FrameSource, ids, manifest, task, probe, width):
    """The outcome, the chosen head, and the rows of each split (positions in ``ids``)."""
    label = task.get("label", "phones")
    phones = [_phones(p) for p in manifest.set_index("utt_id")[label].reindex(ids)]
    rows = _splits(manifest, ids, label, split_column_of(task))
    vocab = sorted({p for i in rows["train"] for p in phones[i]})
    source.prepare(rows)
    fits = {lr: train_ctc(source, phones, rows, vocab, probe, lr, width) for lr in probe["lrs"]}
    lr = best_lr({lr: fit[1] for lr, fit in fits.items()}, higher_is_better=False)
    model, _, best_epoch, epochs_run = fits[lr]
    counts = {
        split: edit_counts(model.decode(source, rows[split]), [phones[i] for i in rows[split]])
        for split in SPLITS
    }
    estimate = bootstrap(
        error_rate(counts["test"]),
        np.arange(len(counts["test"])),  # utterances: an utterance's phones move together
        probe["bootstrap"],
        probe["confidence"],
        probe["seed"],
    )
    model = model.cpu()
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
        extra={
            "num_phones": len(vocab),
            "best_epoch": best_epoch,
            "epochs_run": epochs_run,
            "at_cap": at_cap(best_epoch, epochs_run, probe["max_epochs"]),
            "streamed": source.streamed,
        },
        state=state,
        units=_utterance_counts([ids[i] for i in rows["test"]], counts["test"]),
    )
    return outcome, model, rows


def _utterance_counts(ids: list[str], counts: np.ndarray) -> dict[str, np.ndarray]:
    """The test rows the PER and its interval are computed from: each utterance its own
    cluster, with its edit count and reference length."""
    key = np.asarray(ids, dtype=object)
    return {
        "key": key,
        "unit": key.copy(),
        "edits": counts[:, 0].copy(),
        "length": counts[:, 1].copy(),
    }


def _in_manifest_order(path, ids: list[str], manifest: pd.DataFrame) -> None:
    present = set(ids)
    if [u for u in manifest["utt_id"] if u in present] != ids:
        raise ValueError(f"{path}: utterances are not in manifest order")


def buffer_bytes(probe: dict) -> int:
    return int(probe.get("buffer_mb", DEFAULT_BUFFER_MB) * 2**20)


def fit_phonemes(frames_path, manifest: pd.DataFrame, task: dict[str, Any], probe: dict):
    fix_malloc_mmap_threshold()  # buffers come and go: keep freed ones from staying resident
    index = index_frames(frames_path)
    _in_manifest_order(frames_path, index.ids, manifest)
    source = FrameSource([index], buffer_bytes(probe))
    # The weighted sum restricted to one layer: the same projection front and head.
    return _fit(source, index.ids, manifest, task, probe, probe["projection_width"])[0]


def fit_layer(frames_path, manifest: pd.DataFrame, trials, task: dict[str, Any], probe: dict):
    """The phoneme-recognition kind's single-layer fitting (no trials)."""
    return fit_phonemes(frames_path, manifest, task, probe)


def fit_weighted_layers(features, layers, manifest, trials, task, probe) -> ProbeOutcome:
    """The kind's weighted-sum fitting (no trials)."""
    return fit_weighted_phonemes(features, layers, manifest, task, probe)


def fit_weighted_phonemes(features, layers, manifest, task, probe) -> ProbeOutcome:
    """The weighted sum of ``layers`` (all frame-level, one frame rate) under a CTC head."""
    fix_malloc_mmap_threshold()
    indexes = [index_frames(shard_path(features, layer, "frame")) for layer in layers]
    source = FrameSource(indexes, buffer_bytes(probe))
    ids = indexes[0].ids
    _in_manifest_order(features, ids, manifest)
    outcome, model, rows = _fit(source, ids, manifest, task, probe, probe["projection_width"])
    usage = model.front.usage(source, rows["dev"])
    outcome.extra = {"layers": layers, **usage, **outcome.extra}
    return outcome


def dev_curves(frames_path, manifest: pd.DataFrame, task: dict[str, Any], probe: dict):
    """Dev PER after every epoch up to ``max_epochs``, never stopped early, per learning rate
    (``probe['lrs']``): the convergence study behind the CTC probe's schedule (make bench)."""
    index = index_frames(frames_path)
    _in_manifest_order(frames_path, index.ids, manifest)
    source = FrameSource([index], buffer_bytes(probe))
    label = task.get("label", "phones")
    phones = [_phones(p) for p in manifest.set_index("utt_id")[label].reindex(index.ids)]
    rows = _splits(manifest, index.ids, label, split_column_of(task))
    vocab = sorted({p for i in rows["train"] for p in phones[i]})
    source.prepare(rows)
    endless = probe | {"patience": probe["max_epochs"]}
    curves: dict[float, list[float]] = {}
    for lr in probe["lrs"]:
        curves[lr] = []
        width = probe["projection_width"]
        train_ctc(source, phones, rows, vocab, endless, lr, width, curves[lr])
    return curves
