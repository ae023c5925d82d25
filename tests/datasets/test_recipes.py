"""Each corpus recipe on a fake tree in that corpus's exact layout, and on a broken one."""

from __future__ import annotations

import shutil

import fake_corpora as fake
import pytest

from strata.corpus.lexicon import pronounce
from strata.corpus.manifest import read_trials
from strata.datasets import prepare_dataset
from strata.datasets.speech_commands import SILENCE_PER_FILE
from strata.io import read_parquet_metadata
from strata.manifest import read_manifest


def prepare(cfg, tmp_path):
    out = tmp_path / "out"
    prepare_dataset(cfg, out)
    return read_manifest(out / "manifest.parquet"), out


def test_librispeech_subsets_become_splits_with_cmudict_phones(tmp_path):
    root = fake.librispeech(tmp_path / "LibriSpeech")
    manifest, out = prepare({"kind": "librispeech", "root": str(root)}, tmp_path)
    assert manifest.groupby("split").size().to_dict() == {"dev": 6, "test": 6, "train": 6}
    row = manifest.set_index("utt_id").loc["100-3000-0000"]
    assert (row["speaker"], row["text"], list(row["words"])) == (
        "100",
        "THE CAT SAT",
        ["the", "cat", "sat"],
    )
    expected = [p.rstrip("012") for w in ["the", "cat", "sat"] for p in pronounce(w)]
    assert list(row["phones"]) == expected and "AH" in expected and "0" not in "".join(expected)
    oov = manifest[manifest["utt_id"].str.endswith("-0002")]
    assert oov["phones"].isna().all()  # "zorblaxx" is not in cmudict: outside PR, counted
    assert read_parquet_metadata(out / "manifest.parquet")["out_of_lexicon"]["utterances"] == 6
    assert manifest["duration"].round(2).tolist()[:3] == [0.4, 0.5, 0.6]


def test_librispeech_missing_subset_names_the_folder(tmp_path):
    root = fake.librispeech(tmp_path / "LibriSpeech")
    shutil.rmtree(root / "dev-clean")
    with pytest.raises(FileNotFoundError, match="the dev-clean folder at .*dev-clean"):
        prepare({"kind": "librispeech", "root": str(root)}, tmp_path)
    assert not (tmp_path / "out").exists()


def voxceleb_cfg(root, **dev_trials) -> dict:
    return {"kind": "voxceleb1", "root": str(root), "dev_trials": dev_trials}


def test_voxceleb1_iden_split_and_trials(tmp_path):
    root = fake.voxceleb1(tmp_path / "voxceleb1")
    manifest, out = prepare(voxceleb_cfg(root, speakers=0), tmp_path)
    assert manifest.groupby("split").size().to_dict() == {"dev": 6, "test": 6, "train": 12}
    assert set(manifest["speaker"]) == {f"id1{s:04d}" for s in range(6)}
    trials = read_trials(out / "trials.parquet")
    assert list(trials.columns) == ["enrollment", "test", "target", "split"]
    assert trials["target"].tolist() == [True, True, False, False]
    assert set(trials["split"]) == {"test"}  # the official list is the reported test set
    assert trials.loc[0, "enrollment"] == "id10004/vid0/00000"
    assert set(trials["enrollment"]) | set(trials["test"]) <= set(manifest["utt_id"])


@pytest.mark.parametrize("seed", range(3))
def test_voxceleb1_dev_trials_use_identification_speakers_outside_the_test_list(tmp_path, seed):
    root = fake.voxceleb1(tmp_path / "voxceleb1")
    official = [line.split() for line in (root / "veri_test2.txt").read_text().splitlines()]
    manifest, out = prepare(voxceleb_cfg(root, speakers=3, per_speaker=6, seed=seed), tmp_path)
    trials = read_trials(out / "trials.parquet")
    test, dev = trials[trials["split"] == "test"], trials[trials["split"] == "dev"]
    assert list(test.itertuples(index=False, name=None)) == [
        (e.removesuffix(".wav"), t.removesuffix(".wav"), code == "1", "test")
        for code, e, t in official
    ]
    speaker = manifest.set_index("utt_id")["speaker"]
    enrolled, tested = speaker[dev["enrollment"]].to_numpy(), speaker[dev["test"]].to_numpy()
    test_speakers = set(speaker[test["enrollment"]]) | set(speaker[test["test"]])
    dev_speakers = set(enrolled) | set(tested)
    assert len(set(enrolled)) == 3 and not dev_speakers & test_speakers
    assert ((enrolled == tested) == dev["target"].to_numpy()).all()
    assert (dev["enrollment"] != dev["test"]).all()
    per = dev.assign(spk=enrolled).groupby("spk")["target"]
    assert (per.size() == 6).all() and (per.sum() == 3).all()
    # Dev speakers stay in the SID splits.
    in_sid = manifest.loc[manifest["speaker"].isin(dev_speakers), "split"]
    assert set(in_sid) == {"train", "dev", "test"}


def test_voxceleb1_dev_trials_differ_by_seed(tmp_path):
    root = fake.voxceleb1(tmp_path / "voxceleb1")
    dev = [
        read_trials(
            prepare(voxceleb_cfg(root, speakers=2, seed=s), tmp_path / str(s))[1] / "trials.parquet"
        )
        for s in (0, 0, 1)
    ]
    assert dev[0].equals(dev[1]) and not dev[0].equals(dev[2])


def test_voxceleb1_too_few_dev_trial_speakers_names_the_key(tmp_path):
    root = fake.voxceleb1(tmp_path / "voxceleb1")
    # Six identification speakers, but two are in the test list.
    with pytest.raises(ValueError, match=r"dev_trials\.speakers: 5 wanted.* 4 identification"):
        prepare(voxceleb_cfg(root, speakers=5), tmp_path)
    with pytest.raises(ValueError, match=r"dev_trials\.speakers"):
        prepare(voxceleb_cfg(root, speakers=1), tmp_path)
    assert not (tmp_path / "out").exists()


def test_voxceleb1_dev_trial_speaker_with_one_utterance_is_named(tmp_path):
    root = fake.voxceleb1(tmp_path / "voxceleb1")
    iden = (root / "iden_split.txt").read_text().splitlines()
    kept = [line for line in iden if "id10001/" not in line or "/00000.wav" in line]
    (root / "iden_split.txt").write_text("\n".join(kept) + "\n")
    with pytest.raises(ValueError, match=r"dev_trials: speaker id10001 keeps 1 utterance"):
        prepare(voxceleb_cfg(root, speakers=4), tmp_path)


def test_voxceleb1_malformed_trial_line_names_the_line(tmp_path):
    root = fake.voxceleb1(tmp_path / "voxceleb1")
    (root / "veri_test2.txt").write_text("1 only_one.wav\n")
    with pytest.raises(
        ValueError, match=r"veri_test2.txt:1: expected '1\|0 enrolment.wav test.wav'"
    ):
        prepare({"kind": "voxceleb1", "root": str(root)}, tmp_path)


@pytest.mark.parametrize("separate_test", [False, True])
def test_speech_commands_twelve_classes_and_silence(tmp_path, separate_test):
    test_root = tmp_path / "test_set" if separate_test else None
    root = fake.speech_commands(tmp_path / "speech_commands_v0.01", test_root)
    cfg = {"kind": "speech_commands", "root": str(root)}
    if separate_test:
        cfg["test_root"] = str(test_root)
    manifest, out = prepare(cfg, tmp_path)
    assert set(manifest["keyword"]) == {"yes", "no", "up", "_unknown_", "_silence_"}
    assert set(manifest.loc[manifest["word"].isin(["bed", "cat"]), "keyword"]) == {"_unknown_"}
    silence = manifest[manifest["keyword"] == "_silence_"]
    assert (silence["duration"] == 1.0).all()
    cut = silence[~silence["path"].str.startswith("/")]  # cut from the noise, not the test set's
    per_split = SILENCE_PER_FILE  # one noise file in the fake tree
    assert len(cut) == sum(
        n for split, n in per_split.items() if split != "test" or not separate_test
    )
    assert cut["path"].str.startswith("audio/_silence_/").all()  # inside the dataset folder
    assert all((out / p).is_file() for p in cut["path"])
    test = manifest[manifest["split"] == "test"]
    if separate_test:
        assert sorted(test["keyword"]) == ["_silence_", "_unknown_", "no", "yes"]
    else:
        assert set(test["speaker"]) - {"none"} == {"cccc3333"}
    assert set(manifest.loc[manifest["split"] == "dev", "speaker"]) - {"none"} == {"bbbb2222"}


def test_speech_commands_without_background_noise_names_it(tmp_path):
    root = fake.speech_commands(tmp_path / "sc")
    shutil.rmtree(root / "_background_noise_")
    with pytest.raises(FileNotFoundError, match="_background_noise_ folder"):
        prepare({"kind": "speech_commands", "root": str(root)}, tmp_path)


def test_fluent_speech_commands_joint_intent_by_speaker_split(tmp_path):
    root = fake.fluent_speech_commands(tmp_path / "fluent_speech_commands_dataset")
    manifest, _ = prepare({"kind": "fluent_speech_commands", "root": str(root)}, tmp_path)
    assert manifest.groupby("split")["speaker"].unique().map(sorted).to_dict() == {
        "dev": ["s3"],
        "test": ["s4"],
        "train": ["s1", "s2"],
    }
    assert set(manifest["intent"]) == {
        "activate|lights|none",
        "deactivate|lights|none",
        "increase|heat|kitchen",
    }


def test_fluent_speech_commands_missing_column_names_it(tmp_path):
    root = fake.fluent_speech_commands(tmp_path / "fsc")
    csv = root / "data" / "valid_data.csv"
    csv.write_text(csv.read_text().replace("location", "place"))
    with pytest.raises(ValueError, match=r"valid_data.csv: missing columns \['location'\]"):
        prepare({"kind": "fluent_speech_commands", "root": str(root)}, tmp_path)


def test_iemocap_four_classes_excited_merged_session_out(tmp_path):
    root = fake.iemocap(tmp_path / "IEMOCAP_full_release")
    manifest, _ = prepare({"kind": "iemocap", "root": str(root), "fold": 3}, tmp_path)
    assert set(manifest["emotion"]) == {"neutral", "happy", "angry", "sad"}  # fru dropped
    assert len(manifest) == 5 * 7
    assert set(manifest.loc[manifest["split"] == "test", "session"]) == {3}
    assert set(manifest.loc[manifest["split"] != "test", "session"]) == {1, 2, 4, 5}
    excited = manifest.set_index("utt_id").loc["Ses01F_impro01_M001", "emotion"]
    assert excited == "happy"


def test_iemocap_missing_labels_names_the_folder(tmp_path):
    root = fake.iemocap(tmp_path / "IEMOCAP")
    shutil.rmtree(root / "Session2" / "dialog")
    with pytest.raises(FileNotFoundError, match="dialog/EmoEvaluation at .*Session2"):
        prepare({"kind": "iemocap", "root": str(root)}, tmp_path)


def test_caps_keep_the_same_utterances_for_a_seed(tmp_path):
    root = fake.voxceleb1(tmp_path / "vox")
    cfg = {**voxceleb_cfg(root, speakers=0), "caps": {"train": 5}, "seed": 1}
    first, _ = prepare(cfg, tmp_path / "a")
    second, _ = prepare(cfg, tmp_path / "b")
    other, _ = prepare({**cfg, "seed": 2}, tmp_path / "c")
    assert (first["split"] == "train").sum() == 5
    assert first["utt_id"].tolist() == second["utt_id"].tolist()
    assert first["utt_id"].tolist() != other["utt_id"].tolist()
