"""Verification, CTC and weighted-sum probes on synthetic data with known structure."""

import numpy as np
import pandas as pd
import pytest

from strata.features.shards import ShardWriter
from strata.probes.verify import fit_verification
from strata.probes.weighted import fit_weighted

PROBE = {
    "lrs": [0.01, 0.05],
    "weight_decay": 1e-4,
    "batch_size": 16,
    "max_epochs": 60,
    "patience": 8,
    "seed": 0,
    "bootstrap": 100,
    "confidence": 0.95,
    "projection_width": 8,
}


def speakers(n_speakers=8, per=12, separation=3.0, dim=6, seed=0):
    """Utterance vectors around a centre per speaker; the last 4 speakers held out for trials."""
    rng = np.random.default_rng(seed)
    rows, x = [], []
    for s in range(n_speakers):
        centre = rng.normal(size=dim) * separation
        for i in range(per):
            held = s >= n_speakers - 4
            split = "train" if i < per * 2 // 3 else "dev" if i < per * 5 // 6 else "test"
            split = "verification" if held else split
            rows.append({"utt_id": f"s{s}_{i:02d}", "speaker": f"s{s}", "split": split})
            x.append(centre + rng.normal(size=dim))
    manifest = pd.DataFrame(rows)
    held = manifest[manifest.split == "verification"]
    trials = []
    for u in held.itertuples():
        for v in held.itertuples():
            if u.utt_id < v.utt_id:
                trials.append((u.utt_id, v.utt_id, u.speaker == v.speaker))
    return manifest, np.array(x), pd.DataFrame(trials, columns=["enrollment", "test", "target"])


@pytest.mark.parametrize("scoring", ["cosine", "projection"])
def test_verification_separates_speakers_and_noise_is_at_chance(scoring):
    manifest, x, trials = speakers()
    ids = manifest.utt_id.tolist()
    task = {"kind": "verification", "scoring": scoring}
    good = fit_verification(x, ids, manifest, trials, task, PROBE)
    assert good.test.value < 0.2 and good.extra["min_dcf"] < 0.8
    noise = np.random.default_rng(1).normal(size=x.shape)
    bad = fit_verification(noise, ids, manifest, trials, task, PROBE)
    assert abs(bad.test.value - 0.5) < 0.15 and bad.test.ci_low > good.test.ci_high
    assert (good.lr is None) == (scoring == "cosine")


def test_weighted_sum_uses_the_informative_layer(tmp_path):
    manifest, informative, trials = speakers(per=16)
    rng = np.random.default_rng(2)
    layers = {f"l{i}": rng.normal(size=informative.shape) for i in range(4)}
    layers["l2"] = informative  # one layer carries the speaker; three are noise
    for i, (name, x) in enumerate(layers.items()):
        meta = {"model": "m", "dataset": "d", "layer": name, "layer_index": i, "num_layers": 4}
        writer = ShardWriter(tmp_path / f"{name}.parquet", x.shape[1], "utterance", meta)
        writer.write(manifest.utt_id.tolist(), x)
        writer.close()
    task = {"kind": "classification", "label": "speaker"}
    outcome = fit_weighted(tmp_path, list(layers), manifest, None, task, PROBE)
    usage = outcome.extra["usage"]
    assert int(np.argmax(usage)) == 2 and usage[2] > 0.4
    assert sum(usage) == pytest.approx(1.0)
    assert outcome.test.value > 0.8
