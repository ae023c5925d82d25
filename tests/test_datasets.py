"""User-supplied manifests (``kind: manifest``): checked, made absolute, checksummed."""

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from strata.corpus import read_manifest
from strata.corpus.manifest import manifest_checksum
from strata.datasets import prepare_dataset
from strata.io import read_parquet_metadata
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
    assert meta["manifest_sha256"] == manifest_checksum(manifest, list(manifest.columns))


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
