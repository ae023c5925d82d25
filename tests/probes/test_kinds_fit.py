"""Verification, CTC and weighted-sum probes on synthetic data with known structure."""

import numpy as np
import pandas as pd
import pytest

from strata.features.shards import ShardWriter
from strata.probes.weighted import fit_verification, fit_weighted

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


def speakers(n_speakers=16, per=12, separation=3.0, dim=6, seed=0, held_out=10):
    """Utterance vectors around a centre per speaker; the last ``held_out`` speakers held out for
    trials, the first half of them for dev trials, the rest for test trials."""
    rng = np.random.default_rng(seed)
    rows, x = [], []
    for s in range(n_speakers):
        centre = rng.normal(size=dim) * separation
        for i in range(per):
            held = s >= n_speakers - held_out
            split = "train" if i < per * 2 // 3 else "dev" if i < per * 5 // 6 else "test"
            split = "verification" if held else split
            rows.append({"utt_id": f"s{s}_{i:02d}", "speaker": f"s{s}", "split": split})
            x.append(centre + rng.normal(size=dim))
    manifest = pd.DataFrame(rows)
    held = manifest[manifest.split == "verification"]
    side = {f"s{s}": "dev" if s < n_speakers - held_out // 2 else "test" for s in range(n_speakers)}
    trials = []
    for u in held.itertuples():
        for v in held.itertuples():
            if u.utt_id < v.utt_id and side[u.speaker] == side[v.speaker]:
                trials.append((u.utt_id, v.utt_id, u.speaker == v.speaker, side[u.speaker]))
    columns = ["enrollment", "test", "target", "split"]
    return manifest, np.array(x), pd.DataFrame(trials, columns=columns)


@pytest.mark.parametrize("scoring", ["cosine", "projection"])
def test_verification_separates_speakers_and_noise_is_at_chance(scoring):
    manifest, x, trials = speakers()
    ids = manifest.utt_id.tolist()
    task = {"kind": "verification", "scoring": scoring}
    good = fit_verification(x, ids, manifest, trials, task, PROBE)
    assert good.test.value < 0.2
    noise = np.random.default_rng(1).normal(size=x.shape)
    bad = fit_verification(noise, ids, manifest, trials, task, PROBE)
    assert abs(bad.test.value - 0.5) < 0.15 and bad.test.ci_low > good.test.ci_high
    # Normalised minDCF: 1 is the trivial system's (always reject), so never above it.
    assert good.extra["min_dcf"] < bad.extra["min_dcf"] <= 1.0
    assert good.scores["dev"] < 0.2 and abs(bad.scores["dev"] - 0.5) < 0.2
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


def test_changing_only_test_data_never_changes_the_chosen_learning_rate():
    from strata.probes.weighted import fit_classification

    manifest, x, trials = speakers(separation=1.0)
    ids = manifest.utt_id.tolist()
    noise = np.random.default_rng(5).normal(size=x.shape) * 5
    # Verification: the test trials' speakers get other vectors; dev trials are untouched.
    test_speakers = set(
        manifest.speaker[manifest.utt_id.isin(trials.enrollment[trials.split == "test"])]
    )
    changed = np.where(manifest.speaker.isin(test_speakers).to_numpy()[:, None], noise, x)
    task = {"kind": "verification", "scoring": "projection"}
    before = fit_verification(x, ids, manifest, trials, task, PROBE)
    after = fit_verification(changed, ids, manifest, trials, task, PROBE)
    assert after.lr == before.lr and after.dev_by_lr == before.dev_by_lr
    assert after.scores["dev"] == before.scores["dev"] and after.test.value != before.test.value
    # Classification: the test utterances get other vectors.
    task = {"kind": "classification", "label": "speaker"}
    changed = np.where((manifest.split == "test").to_numpy()[:, None], noise, x)
    before = fit_classification(x, ids, manifest, task, PROBE)
    after = fit_classification(changed, ids, manifest, task, PROBE)
    assert after.lr == before.lr and after.dev_by_lr == before.dev_by_lr
    assert after.test.value != before.test.value
