"""The CTC probe learns a synthetic frame-to-phone mapping; greedy decoding as CTC defines it."""

import numpy as np
import pandas as pd
import torch

from strata.features.shards import ShardWriter
from strata.probes.phonemes import fit_phonemes, greedy

PROBE = {
    "lrs": [0.2],
    "weight_decay": 0.0,
    "batch_size": 8,
    "max_epochs": 80,
    "patience": 10,
    "seed": 0,
    "bootstrap": 100,
    "confidence": 0.95,
    "projection_width": 8,
}


def test_greedy_merges_repeats_and_drops_blanks():
    # frames: a a _ a b b _ _ → "a a b" (a blank separates the two a's)
    best = [1, 1, 0, 1, 2, 2, 0, 0]
    log_probs = torch.full((8, 3), -10.0)
    log_probs[range(8), best] = 0.0
    assert greedy(log_probs, 8, ["a", "b"]) == ["a", "a", "b"]
    assert greedy(log_probs, 2, ["a", "b"]) == ["a"]


def test_ctc_probe_learns_the_phone_sequence(tmp_path):
    rng = np.random.default_rng(0)
    vocab = ["aa", "b", "k", "s", "t"]
    codes = {p: rng.normal(size=6) * 3 for p in vocab}
    rows, frames = [], []
    for i in range(60):
        phones = [str(rng.choice(vocab))]
        while len(phones) < rng.integers(3, 7):  # no phone twice in a row: frames alike
            phones.append(str(rng.choice([p for p in vocab if p != phones[-1]])))
        seq = [codes[p] + rng.normal(size=6) * 0.3 for p in phones for _ in range(3)]
        frames.append(np.array(seq))
        split = "train" if i < 40 else "dev" if i < 50 else "test"
        rows.append({"utt_id": f"u{i:02d}", "phones": phones, "split": split})
    manifest = pd.DataFrame(rows)
    meta = {"model": "m", "dataset": "d", "layer": "l", "layer_index": 0, "num_layers": 1}
    path = tmp_path / "l.frames.parquet"
    writer = ShardWriter(path, 6, "frame", meta)
    ids = [u for u, f in zip(manifest.utt_id, frames) for _ in f]
    writer.write(ids, np.concatenate(frames), np.concatenate([np.arange(len(f)) for f in frames]))
    writer.close()
    outcome = fit_phonemes(path, manifest, {"kind": "phoneme_recognition"}, PROBE)
    assert outcome.test.value < 0.1 and outcome.scores["train"] < 0.1
    assert outcome.extra["num_phones"] == 5 and outcome.chance == 1.0
