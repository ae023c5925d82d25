"""Generated speakers: identity carried by voice (timbre), not by accent; corpora disjoint."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from strata.corpus import build_corpus
from strata.corpus.config import generated_voices, parse_config
from strata.corpus.plan import plan
from strata.corpus.timbre import espeak_data, system_data

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = yaml.safe_load((ROOT / "config.yaml").read_text())
ACCENTS = ["en-us", "en-gb-scotland", "en-029", "en-gb-x-rp"]
SPEAKERS = 12
VOICED_CFG = {
    **copy.deepcopy(DEFAULT["datasets"]["embedded"]),
    "utterances_per_speaker": 16,
    "speakers": {"count": SPEAKERS, "accents": ACCENTS},
    "voices": [],
    "styles": {"neutral": {"rate": 1.0, "pitch": 1.0}, "fast": {"rate": 1.3, "pitch": 1.0}},
    "splits": {"verification_speakers": 0, "dev_fraction": 0.25, "test_fraction": 0.25},
    "trials_per_speaker": 0,
}


def test_timbres_are_seeded_per_speaker_and_differ_across_seeds():
    a, b = generated_voices(0, 5), generated_voices(0, 5)
    assert a == b  # a pure function of (seed, name)
    assert generated_voices(0, 3) == a[:3]  # one speaker's draw ignores how many there are
    other = generated_voices(1, 5)
    assert not {v.voice for v in a} & {v.voice for v in other}
    assert not {v.timbre.formants for v in a} & {v.timbre.formants for v in other}
    assert len({v.timbre.pitch for v in a}) == 5


def test_the_variant_file_is_one_espeak_reads(tmp_path):
    """The same text and accent in two timbres: espeak-ng honours the files (an unknown
    variant is an error, and the two renditions differ)."""
    voices = generated_voices(0, 2)
    waves = []
    for voice in voices:
        with espeak_data([voice.timbre]) as data:
            assert (data / "espeak-ng-data" / "voices" / "!v" / voice.voice).is_file()
            wav = tmp_path / f"{voice.voice}.wav"
            import subprocess

            subprocess.run(
                ["espeak-ng", f"--path={data}", "-v", f"en-us+{voice.voice}", "-w", str(wav), "go"],
                check=True,
                capture_output=True,
            )
            waves.append(sf.read(wav)[0])
    assert len(waves[0]) != len(waves[1]) or not np.allclose(waves[0], waves[1])
    assert system_data().is_dir()


def test_accent_is_drawn_per_text_independent_of_speaker():
    corpus = plan(parse_config({**VOICED_CFG, "speakers": {"count": 40, "accents": ACCENTS}}))
    by_speaker: dict[str, set[str]] = {}
    for u in corpus.utterances:
        assert u.synth_voice == f"{u.accent}+{u.voice.voice}"
        by_speaker.setdefault(u.speaker, set()).add(u.accent)
    # Four texts per speaker: most speakers use several accents, and every accent is used.
    assert np.mean([len(a) > 1 for a in by_speaker.values()]) > 0.8
    assert set().union(*by_speaker.values()) == set(ACCENTS)


def _mean_log_mel(path: Path) -> np.ndarray:
    wave, sr = sf.read(path, dtype="float32")
    mel = torchaudio.transforms.MelSpectrogram(sr, n_fft=400, hop_length=160, n_mels=40)
    return (mel(torch.from_numpy(wave)) + 1e-6).log().mean(dim=1).numpy()


@pytest.fixture(scope="module")
def voiced(tmp_path_factory):
    out = tmp_path_factory.mktemp("voiced")
    manifest = build_corpus(copy.deepcopy(VOICED_CFG), out, threads=2)
    features = np.stack([_mean_log_mel(out / p) for p in manifest["path"]])
    return manifest, features


def test_speaker_identity_is_carried_by_voice_not_accent(voiced):
    """A linear speaker-ID probe on mean log-mel (a spectral envelope) is far above chance;
    the accent a text was spoken in identifies its speaker no better than chance."""
    manifest, features = voiced
    train = (manifest["split"] == "train").to_numpy()
    speakers = manifest["speaker"].to_numpy()
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    probe.fit(features[train], speakers[train])
    accuracy = probe.score(features[~train], speakers[~train])
    chance = 1 / SPEAKERS
    assert accuracy > 6 * chance, accuracy
    accent = manifest["voice"].str.split("+").str[0].to_numpy()
    # The best guess from the accent alone: the training speaker who used it most.
    table = manifest[train].assign(accent=accent[train]).groupby("accent")["speaker"]
    guess = table.agg(lambda s: s.value_counts().index[0])
    by_accent = np.mean(guess.reindex(accent[~train]).to_numpy() == speakers[~train])
    assert by_accent < 2.5 * chance, by_accent


def test_the_default_pretraining_and_probing_corpora_share_no_speaker():
    datasets = DEFAULT["datasets"]
    trained = {m["train"]["dataset"] for m in DEFAULT["models"].values() if "train" in m}
    probed = {t["dataset"] for t in DEFAULT["tasks"].values()} | {"embedded"}
    assert trained == {"pretrain"} and not trained & probed
    pre, emb = (plan(parse_config(datasets[name])) for name in ("pretrain", "embedded"))
    assert not {u.speaker for u in pre.utterances} & {u.speaker for u in emb.utterances}
    timbres = {u.voice.timbre for u in pre.utterances}
    assert not timbres & {u.voice.timbre for u in emb.utterances}
    assert len(pre.utterances) > 3 * len(emb.utterances)  # more audio to learn from
