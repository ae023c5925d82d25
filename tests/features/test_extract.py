"""extract_features with a tiny analytic encoder: batching and padding must not matter."""

import numpy as np
import pytest
import soundfile as sf
import torch
from fake_corpora import noise_manifest

from strata.features import read_shard, read_shard_metadata, read_utterance_vectors
from strata.features.extract import extract_features
from strata.features.selection import frame_utterances
from strata.models.base import Encoder, LayerOutput, LayerSpec


class FrameEnergy(Encoder):
    """Layer 'frames': per 10 ms frame (mean, max); layer 'utt': utterance RMS (T=1)."""

    layers = [LayerSpec("frames", 100.0), LayerSpec("utt", None)]

    def __call__(self, waves, lengths):
        hop = self.sample_rate // 100
        n_frames = lengths // hop
        framed = waves[:, : waves.shape[1] // hop * hop].reshape(len(waves), -1, hop)
        hidden = torch.stack([framed.mean(-1), framed.amax(-1)], dim=-1)
        rms = torch.stack([(w[:n] ** 2).mean().sqrt() for w, n in zip(waves, lengths)])
        return {
            "frames": LayerOutput(hidden, n_frames),
            "utt": LayerOutput(rms[:, None, None], torch.ones_like(lengths)),
        }

    def to(self, device):
        return self


@pytest.fixture
def corpus(tmp_path):
    return tmp_path, noise_manifest(tmp_path, [0.5, 1.23, 0.31, 0.8, 1.0])


def reference(path):
    wave, _ = sf.read(path, dtype="float32")
    frames = wave[: len(wave) // 160 * 160].reshape(-1, 160)
    per_frame = np.stack([frames.mean(-1), frames.max(-1)], -1)
    return per_frame, np.sqrt((wave**2).mean())


CFG = {
    "level": "utterance",
    "pooling": "mean",
    "chunk_size": 2,
    "device": "cpu",
    "dtype": "float32",
    "precision": "float32",
}


@pytest.mark.parametrize("batch_seconds", [0.2, 1.0, 100.0])
def test_utterance_level_matches_unbatched_reference(corpus, tmp_path, batch_seconds):
    root, manifest = corpus
    out = tmp_path / "features"
    cfg = {**CFG, "batch_seconds": batch_seconds}
    rows = extract_features(FrameEnergy(), manifest, root, out, cfg, {"model": "toy"})
    assert rows == {"frames.parquet": 5, "utt.parquet": 5}
    assert sorted(p.name for p in out.iterdir()) == ["frames.parquet", "utt.parquet"]
    ids, frames = read_shard(out / "frames.parquet")
    assert ids == manifest["utt_id"].tolist()
    for i, path in enumerate(root / manifest["path"]):
        per_frame, rms = reference(path)
        np.testing.assert_allclose(frames[i], per_frame.mean(0), atol=1e-6)
        np.testing.assert_allclose(read_shard(out / "utt.parquet")[1][i], [rms], rtol=1e-5)
    meta = read_shard_metadata(out / "frames.parquet")
    assert meta["layer_index"] == 0 and meta["num_layers"] == 2 and meta["frame_rate"] == 100.0
    assert meta["pooling"] == "mean" and meta["model"] == "toy"


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_frame_level_writes_every_valid_frame_in_order_and_the_pooled_rows(corpus, tmp_path, dtype):
    root, manifest = corpus
    out = tmp_path / "features"
    cfg = {**CFG, "level": "frame", "batch_seconds": 1.0, "dtype": dtype}
    rows = extract_features(FrameEnergy(), manifest, root, out, cfg, {"model": "toy"})
    expected = [reference(root / p)[0] for p in manifest["path"]]
    assert rows == {
        "frames.frames.parquet": sum(len(e) for e in expected),
        "frames.parquet": 5,
        "utt.parquet": 5,  # utterance-level layers have no frames
    }
    ids, frames = read_shard(out / "frames.frames.parquet")
    tolerance = 1e-6 if dtype == "float32" else 5e-4
    np.testing.assert_allclose(frames, np.concatenate(expected), atol=tolerance)
    assert ids == [u for u, e in zip(manifest["utt_id"], expected) for _ in range(len(e))]
    meta = read_shard_metadata(out / "frames.frames.parquet")
    assert meta["level"] == "frame" and meta["dtype"] == dtype
    # The pooled rows beside them are the utterance-level extraction, and pooling on read agrees.
    pooled_out = tmp_path / "pooled"
    extract_features(FrameEnergy(), manifest, root, pooled_out, {**cfg, "level": "utterance"}, {})
    utterance = read_shard(pooled_out / "frames.parquet")[1]
    np.testing.assert_allclose(read_shard(out / "frames.parquet")[1], utterance, atol=tolerance)
    ids, pooled = read_utterance_vectors(out / "frames.frames.parquet")
    assert ids == manifest["utt_id"].tolist()
    np.testing.assert_allclose(pooled, utterance, atol=tolerance)


def test_frame_hours_keep_the_frames_of_a_capped_splits_subset_in_their_own_folder(
    corpus, tmp_path
):
    root, manifest = corpus
    manifest = manifest.assign(split=["train", "train", "dev", "train", "test"])
    cap = 1.9 / 3600  # hours: the train utterances (0.5, 1.23, 0.8 s) cannot all stay
    cfg = {**CFG, "level": "frame", "batch_seconds": 1.0, "frame_hours": {"train": cap}}
    out, frames_dir = tmp_path / "features", tmp_path / "frames"
    extract_features(FrameEnergy(), manifest, root, out, cfg, {}, frames_dir=frames_dir)
    assert sorted(p.name for p in out.iterdir()) == ["frames.parquet", "utt.parquet"]
    assert [p.name for p in frames_dir.iterdir()] == ["frames.frames.parquet"]
    keep = frame_utterances(
        manifest["split"].tolist(), manifest["duration"].to_numpy(), {"train": cap}
    )
    kept = manifest[keep]
    assert set(kept.split) == {"train", "dev", "test"}  # uncapped splits stay whole
    assert kept.duration[kept.split == "train"].sum() <= 1.9 < manifest.duration[:2].sum() + 0.8
    ids, frames = read_shard(frames_dir / "frames.frames.parquet")
    expected = [reference(root / p)[0] for p in kept["path"]]
    assert ids == [u for u, e in zip(kept["utt_id"], expected) for _ in range(len(e))]
    np.testing.assert_allclose(frames, np.concatenate(expected), atol=1e-6)
    assert read_shard(out / "frames.parquet")[0] == manifest["utt_id"].tolist()  # every row


def test_unreadable_audio_names_the_file_and_leaves_no_output(corpus, tmp_path):
    root, manifest = corpus
    (root / "audio" / "u3.flac").write_bytes(b"not audio")
    out = tmp_path / "features"
    with pytest.raises(ValueError, match="u3.flac"):
        extract_features(FrameEnergy(), manifest, root, out, {**CFG, "batch_seconds": 1.0}, {})
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".features")] == []


def test_the_heap_is_offered_a_trim_after_every_batch(corpus, tmp_path, monkeypatch):
    from strata.features import extract

    calls = []

    class Counting:
        def __init__(self, slack_mb):
            calls.append(slack_mb)

        def __call__(self):
            calls.append("batch")

    monkeypatch.setattr(extract, "HeapTrimmer", Counting)
    root, manifest = corpus
    cfg = {**CFG, "batch_seconds": 0.2}  # every utterance is longer: five batches of one
    extract_features(FrameEnergy(), manifest, root, tmp_path / "features", cfg, {})
    assert calls == [extract.TRIM_SLACK_MB] + ["batch"] * 5
