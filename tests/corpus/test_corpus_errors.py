"""Failures are loud and actionable: missing binaries/voices, unknown words, bad config."""

from __future__ import annotations

from pathlib import Path

import pytest

from strata.corpus import MissingVoiceError, build_corpus, check_voices, engines
from strata.corpus.lexicon import pronounce


def test_missing_binary_names_apt_package(tiny_cfg, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    with pytest.raises(MissingVoiceError, match=r"apt-get install espeak-ng"):
        check_voices(tiny_cfg)
    tiny_cfg["voices"] = [
        {"engine": "festival", "voice": "kal_diphone"},
        {"engine": "festival", "voice": "cmu_us_slt_arctic_hts"},
    ]
    tiny_cfg["splits"] = {"verification_speakers": 0, "dev_fraction": 0.15, "test_fraction": 0.15}
    tiny_cfg["trials_per_speaker"] = 0
    with pytest.raises(MissingVoiceError, match=r"apt-get install festival"):
        build_corpus(tiny_cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_festival_voice_names_festvox_package(tiny_cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(engines, "FESTIVAL_VOICE_ROOT", tmp_path)
    with pytest.raises(MissingVoiceError, match=r"apt-get install festvox-us-slt-hts"):
        check_voices(tiny_cfg)


def test_unknown_espeak_variant_is_rejected(tiny_cfg):
    # espeak-ng itself silently falls back to the base voice for an unknown variant.
    tiny_cfg["voices"][0] = {"engine": "espeak", "voice": "en-us+nosuchvariant"}
    with pytest.raises(MissingVoiceError, match="nosuchvariant"):
        check_voices(tiny_cfg)


def test_word_not_in_cmudict_names_word(tiny_cfg, tmp_path):
    tiny_cfg["keywords"] = ["yes", "zorblaxx"]
    tiny_cfg["keyword_fraction"] = 1.0
    with pytest.raises(ValueError, match="zorblaxx"):
        build_corpus(tiny_cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing synthesised before the check
    with pytest.raises(ValueError, match="'qwzx'"):
        pronounce("qwzx")


def test_yaml_boolean_keyword_is_rejected(tiny_cfg, tmp_path):
    tiny_cfg["keywords"] = [True, False, "up"]  # what bare `yes`/`no` become in YAML 1.1
    with pytest.raises(ValueError, match="keywords"):
        build_corpus(tiny_cfg, tmp_path / "out")


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        (("utterances_per_speaker",), 10, "utterances_per_speaker"),
        (("splits", "verification_speakers"), 4, "splits.verification_speakers"),
        (("splits", "verification_dev_speakers"), 1, "splits.verification_dev_speakers"),
        (("splits", "verification_dev_speakers"), 3, "splits.verification_dev_speakers"),
        (("styles", "fast", "rate"), 0, "styles.fast.rate"),
        (("trials_per_speaker",), 7, "trials_per_speaker"),
        (("voices",), [{"engine": "say", "voice": "x"}], "voices.0.engine"),
        (("keyword_fraction",), "0.5", "keyword_fraction"),
        (("keyword_fraction",), 1.5, "keyword_fraction"),
        (("styles", "fast"), 1.4, "styles.fast"),
    ],
)
def test_bad_config_names_key(tiny_cfg, tmp_path, path, value, key):
    target = tiny_cfg
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with pytest.raises(ValueError, match=key.replace("[", r"\[").replace("]", r"\]")):
        build_corpus(tiny_cfg, tmp_path / "out")
