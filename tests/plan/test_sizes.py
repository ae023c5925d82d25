"""Dataset sizes: a manifest's own counts (frame counts exact per utterance), the corpus table's
totals as published, and frame caps."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from strata.features.selection import frame_utterances
from strata.io import write_parquet
from strata.plan.sizes import KNOWN_CORPORA, dataset_size


@pytest.fixture
def manifest(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {
            "utt_id": [f"u{i}" for i in range(n)],
            "split": rng.choice(["train", "dev", "test"], size=n, p=[0.7, 0.15, 0.15]),
            "num_samples": rng.integers(8000, 160000, size=n),
            "sample_rate": 16000,
        }
    )
    frame = frame.assign(duration=frame.num_samples / 16000)
    write_parquet(pa.Table.from_pandas(frame), tmp_path / "manifest.parquet", {})
    return frame


def test_a_prepared_manifest_gives_its_own_counts(tmp_path, manifest):
    size = dataset_size({"kind": "librispeech"}, tmp_path)  # the manifest wins over the table
    assert size.source == "manifest"
    seconds = manifest.num_samples / 16000
    for split, rows in manifest.groupby("split"):
        assert size.utterances[split] == len(rows)
        assert size.seconds[split] == pytest.approx((rows.num_samples / 16000).sum())
    assert size.longest == pytest.approx(seconds.max())
    # 50 frames/s: each utterance floors its own count (what an encoder's frames do)
    assert size.frames(50) == sum(int(n * 50 // 16000) for n in manifest.num_samples)


def test_frame_caps_keep_a_subset_within_each_capped_split(tmp_path, manifest):
    size = dataset_size({"kind": "embedded"}, tmp_path)
    seconds = manifest.num_samples.to_numpy() / 16000
    keep = frame_utterances(manifest.split.tolist(), seconds, {"train": 0.2})
    train = manifest.split.to_numpy() == "train"
    assert keep[~train].all()  # uncapped splits keep every utterance
    kept = seconds[keep & train].sum()
    assert kept <= 0.2 * 3600 and kept > 0.2 * 3600 - seconds.max()  # full up to one utterance
    assert size.frames(50, {"train": 0.2}) == sum(
        int(n * 50 // 16000) for n, k in zip(manifest.num_samples, keep) if k
    )
    again = frame_utterances(manifest.split.tolist(), seconds, {"train": 0.2})
    assert np.array_equal(keep, again)  # the same subset for every model


def test_an_unprepared_corpus_of_unknown_size_has_no_estimate(tmp_path):
    assert dataset_size({"kind": "manifest"}, tmp_path / "absent") is None


def test_the_table_holds_the_published_totals():
    libri = KNOWN_CORPORA["librispeech"]
    assert libri.total_utterances == 28539 + 2703 + 2620  # train-clean-100, dev/test-clean
    assert KNOWN_CORPORA["voxceleb1"].total_utterances == 153516  # iden_split.txt
    assert KNOWN_CORPORA["voxceleb1"].hours == pytest.approx(352, abs=1)
    assert KNOWN_CORPORA["fluent_speech_commands"].total_utterances == 30043
    assert libri.frames(50, {"train": 10}) == int((10 + 5.4 + 5.4) * 3600 * 50)
