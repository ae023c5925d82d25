"""User-supplied manifests (``kind: manifest``): checked, made absolute, checksummed."""

import re

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from strata.datasets import prepare_dataset
from strata.datasets.listing import audio_files
from strata.features.extract import load_audio
from strata.io import read_parquet_metadata
from strata.manifest import manifest_checksum, read_manifest
from strata.provenance import sha256_file


@pytest.fixture
def user_corpus(tmp_path):
    """A folder of WAVs and a CSV manifest with relative paths and a custom label column."""
    audio = tmp_path / "corpus" / "wav"
    audio.mkdir(parents=True)
    rows = []
    for i, seconds in enumerate([0.5, 0.75, 1.0, 1.25]):
        sf.write(audio / f"u{i}.wav", np.zeros(int(16000 * seconds)), 16000)
        rows.append(
            {
                "utt_id": f"u{i}",
                "path": f"wav/u{i}.wav",
                "split": "train",
                "emotion": ["happy", "sad"][i % 2],
            }
        )
    csv = tmp_path / "corpus" / "manifest.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return csv


def test_import_resolves_paths_and_measures_durations(user_corpus, tmp_path):
    out = tmp_path / "results" / "mine"
    prepare_dataset({"kind": "manifest", "path": str(user_corpus)}, out)
    manifest = read_manifest(out / "manifest.parquet")
    assert manifest["utt_id"].tolist() == ["u0", "u1", "u2", "u3"]
    assert manifest["duration"].tolist() == pytest.approx([0.5, 0.75, 1.0, 1.25])
    assert manifest["emotion"].tolist() == ["happy", "sad", "happy", "sad"]
    expected = [str(user_corpus.parent / "wav" / f"u{i}.wav") for i in range(4)]
    assert manifest["path"].tolist() == expected
    meta = read_parquet_metadata(out / "manifest.parquet")
    assert meta["source_sha256"] == sha256_file(user_corpus)
    columns = [c for c in manifest.columns if c != "path"]
    assert meta["manifest_sha256"] == manifest_checksum(manifest, columns)
    assert manifest["audio_sha256"].iat[1] == sha256_file(user_corpus.parent / "wav" / "u1.wav")


def test_checksum_follows_audio_content_not_location(user_corpus, tmp_path):
    cfg = {"kind": "manifest", "path": str(user_corpus)}
    first = prepare_dataset(cfg, tmp_path / "a")
    moved = tmp_path / "moved"
    user_corpus.parent.rename(moved)
    cfg = {"kind": "manifest", "path": str(moved / "manifest.csv")}
    same = prepare_dataset(cfg, tmp_path / "b")
    sf.write(moved / "wav" / "u2.wav", np.full(16000, 0.25), 16000)
    changed = prepare_dataset(cfg, tmp_path / "c")
    sha = [
        read_parquet_metadata(tmp_path / d / "manifest.parquet")["manifest_sha256"] for d in "abc"
    ]
    assert sha[0] == sha[1] != sha[2]
    assert len(first) == len(same) == len(changed) == 4


def test_audio_root_and_tsv(user_corpus, tmp_path):
    table = pd.read_csv(user_corpus).assign(path=lambda d: d["path"].str.replace("wav/", ""))
    tsv = tmp_path / "elsewhere.tsv"
    table.to_csv(tsv, sep="\t", index=False)
    cfg = {"kind": "manifest", "path": str(tsv), "audio_root": str(user_corpus.parent / "wav")}
    prepare_dataset(cfg, tmp_path / "out")
    assert read_manifest(tmp_path / "out" / "manifest.parquet")["duration"].iat[3] == 1.25


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.drop(columns="split"), "missing column 'split'"),
        (lambda d: d.assign(utt_id=["a", "a", "b", "c"]), "duplicate utt_id values \\['a'\\]"),
        (lambda d: d.assign(split=["train", "valid", "dev", "test"]), "split values \\['valid'\\]"),
        (
            lambda d: d.assign(path=d["path"].str.replace("u1", "nope")),
            "1 audio files missing.*nope",
        ),
    ],
)
def test_bad_manifest_is_rejected_and_nothing_is_written(user_corpus, tmp_path, edit, message):
    edit(pd.read_csv(user_corpus)).to_csv(user_corpus, index=False)
    out = tmp_path / "out"
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        prepare_dataset({"kind": "manifest", "path": str(user_corpus)}, out)
    assert not out.exists() and list(tmp_path.glob(".out*")) == []


def test_unsupported_format_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="must be .csv, .tsv or .parquet"):
        prepare_dataset({"kind": "manifest", "path": str(tmp_path / "m.json")}, tmp_path / "o")
    with pytest.raises(FileNotFoundError, match="m.csv does not exist"):
        prepare_dataset({"kind": "manifest", "path": str(tmp_path / "m.csv")}, tmp_path / "o")


def test_bad_audio_is_rejected_naming_each_utterance_and_path(user_corpus, tmp_path):
    wav = user_corpus.parent / "wav"
    sf.write(wav / "u0.wav", np.zeros(0), 16000)  # empty
    sf.write(wav / "u1.wav", np.zeros(300), 16000)  # under one 25 ms frame
    sf.write(wav / "u2.wav", np.array([0.1, np.nan] * 800), 16000, subtype="FLOAT")
    (wav / "u3.wav").write_bytes(b"RIFF but not really")
    out = tmp_path / "results" / "mine"
    with pytest.raises(ValueError) as err:
        prepare_dataset({"kind": "manifest", "path": str(user_corpus)}, out)
    message = str(err.value)
    assert message.startswith("4 unusable audio files")
    assert f"u0 ({wav / 'u0.wav'}): empty" in message
    assert f"u1 ({wav / 'u1.wav'}): shorter than one 25 ms frame (18.8 ms)" in message
    assert f"u2 ({wav / 'u2.wav'}): non-finite samples" in message
    assert f"u3 ({wav / 'u3.wav'}): unreadable" in message
    assert not out.exists()


def test_stereo_and_other_rates_are_kept_counted_and_converted_on_read(
    user_corpus, tmp_path, caplog
):
    wav = user_corpus.parent / "wav"
    left, right = np.full(22050, 0.2), np.full(22050, -0.1)
    sf.write(wav / "u1.wav", np.stack([left, right], axis=1), 22050)
    caplog.set_level("INFO", logger="strata.datasets")
    out = tmp_path / "results" / "mine"
    manifest = prepare_dataset({"kind": "manifest", "path": str(user_corpus)}, out)
    assert manifest.loc[1, ["sample_rate", "channels"]].tolist() == [22050, 2]
    assert manifest.loc[1, "duration"] == pytest.approx(1.0)
    assert "1 of 4 files have several channels: mixed to mono when read" in caplog.text
    assert "1 files at 22050 Hz: resampled to 16000 Hz when read" in caplog.text
    wave = load_audio(wav / "u1.wav", 16000)
    assert len(wave) == 16000
    np.testing.assert_allclose(wave[2000:14000].numpy(), 0.05, atol=1e-3)  # the channel mean


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
@pytest.mark.parametrize("root", ["table", "audio_root"])
def test_the_parse_time_listing_names_the_files_the_import_reads(
    user_corpus, tmp_path, suffix, root
):
    """The Snakefile lists a manifest's audio as inputs without pandas; the list is exactly
    the files the import resolves, for every table format and either base of relative paths."""
    table = pd.read_csv(user_corpus)
    cfg = {"kind": "manifest", "path": str(user_corpus.with_suffix(suffix))}
    if root == "audio_root":  # paths relative to another folder
        cfg["audio_root"] = str(user_corpus.parent / "wav")
        table["path"] = table["path"].str.removeprefix("wav/")
    write = {
        ".csv": lambda p: table.to_csv(p, index=False),
        ".tsv": lambda p: table.to_csv(p, sep="\t", index=False),
        ".parquet": lambda p: table.to_parquet(p),
    }
    write[suffix](cfg["path"])
    prepare_dataset(cfg, tmp_path / "out")
    imported = read_manifest(tmp_path / "out" / "manifest.parquet")["path"].tolist()
    assert audio_files(cfg) == imported
    assert len(set(imported)) == len(table)


def with_speakers(user_corpus):
    table = pd.read_csv(user_corpus).assign(speaker=["a", "a", "b", "b"], split="verification")
    table.to_csv(user_corpus, index=False)
    return table


def test_a_trial_list_becomes_trials_parquet_with_its_dev_and_test_split(user_corpus, tmp_path):
    with_speakers(user_corpus)
    trials = user_corpus.parent / "trials.tsv"
    pd.DataFrame(
        {
            "enrollment": ["u0", "u2", "u0"],
            "test": ["u1", "u3", "u1"],
            "target": [1, 1, 0],
            "split": ["dev", "test", "dev"],
        }
    ).to_csv(trials, sep="\t", index=False)
    out = tmp_path / "mine"
    prepare_dataset({"kind": "manifest", "path": str(user_corpus), "trials": str(trials)}, out)
    written = pd.read_parquet(out / "trials.parquet")
    assert written.to_dict("list") == {
        "enrollment": ["u0", "u2", "u0"],
        "test": ["u1", "u3", "u1"],
        "target": [True, True, False],
        "split": ["dev", "test", "dev"],
    }
    # Without a split column every trial is a test trial.
    pd.read_csv(trials, sep="\t").drop(columns="split").to_csv(trials, sep="\t", index=False)
    prepare_dataset({"kind": "manifest", "path": str(user_corpus), "trials": str(trials)}, out)
    assert set(pd.read_parquet(out / "trials.parquet")["split"]) == {"test"}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ({"enrollment": ["u0"], "test": ["u9"], "target": [1]}, "not in the manifest: ['u9']"),
        ({"enrollment": ["u0"], "test": ["u1"], "target": ["yes"]}, "target must be"),
        ({"enrollment": ["u0"], "test": ["u1"], "target": [1], "split": ["eval"]}, "dev or test"),
        (
            {"enrollment": ["u0", "u1"], "test": ["u2", "u3"], "target": [0, 0],
             "split": ["dev", "test"]},
            "speakers in both dev and test trials: ['a', 'b']",
        ),
    ],
)  # fmt: skip
def test_a_bad_trial_list_is_an_error_naming_it(user_corpus, tmp_path, rows, message):
    with_speakers(user_corpus)
    trials = user_corpus.parent / "trials.csv"
    pd.DataFrame(rows).to_csv(trials, index=False)
    cfg = {"kind": "manifest", "path": str(user_corpus), "trials": str(trials)}
    with pytest.raises(ValueError, match=re.escape(message)):
        prepare_dataset(cfg, tmp_path / "mine")
    assert not (tmp_path / "mine").exists()  # nothing half-written
