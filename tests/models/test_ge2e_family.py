"""resemblyzer family: the shipped pretrained GE2E against resemblyzer's own code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from model_checks import check_cuda_matches_cpu, check_outputs, check_padding_invariance
from resemblyzer import VoiceEncoder, audio

from strata.models.ge2e import ResemblyzerFamily, mel_spectrogram, normalize_volume

CFG = {"family": "resemblyzer", "init": "pretrained"}
LAYER_NAMES = ["lstm_1", "lstm_2", "lstm_3", "projection", "embedding"]


@pytest.fixture(scope="module")
def family() -> ResemblyzerFamily:
    return ResemblyzerFamily()


@pytest.fixture(scope="module")
def weights(family: ResemblyzerFamily, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return family.materialise(CFG, tmp_path_factory.mktemp("ge2e"))


@pytest.fixture(scope="module")
def encoder(family: ResemblyzerFamily, weights: Path):
    return family.load(CFG, weights)


@pytest.fixture(scope="module")
def reference() -> VoiceEncoder:
    return VoiceEncoder(device="cpu", verbose=False).eval()


def test_layer_specs_and_files(family: ResemblyzerFamily, weights: Path) -> None:
    specs = family.layer_specs(CFG)
    assert [s.name for s in specs] == LAYER_NAMES
    assert [s.frame_rate for s in specs] == [100.0] * 3 + [None, None]
    assert weights.name == "pretrained.pt" and weights.is_file()
    assert family.weight_files(weights) == [weights]
    custom = {**CFG, "path": str(weights)}
    assert family.materialise(custom, Path("unused")) == weights
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        family.materialise({**CFG, "path": "/nonexistent/nope.pt"}, Path("unused"))


def test_features_match_resemblyzer(waves) -> None:
    wav = waves[0][1, : int(waves[1][1])].numpy()
    normed = normalize_volume(wav)
    expected = audio.normalize_volume(wav, -30, increase_only=True)
    assert normed.dtype == expected.dtype and np.array_equal(normed, expected)
    assert np.array_equal(mel_spectrogram(normed), audio.wav_to_mel_spectrogram(expected))
    loud = 0.9 * wav / np.abs(wav).max()  # above -30 dBFS: left unchanged (increase only)
    assert np.array_equal(normalize_volume(loud), loud)
    silence = np.zeros(800, np.float32)
    assert np.array_equal(normalize_volume(silence), silence)  # no NaN


def test_outputs_and_padding_invariance(encoder, waves) -> None:
    out = check_outputs(encoder, ResemblyzerFamily().layer_specs(CFG), *waves)
    norms = out["embedding"].hidden.norm(dim=-1)
    torch.testing.assert_close(norms, torch.ones_like(norms))
    # Exact: mels are per utterance and the LSTMs run on packed sequences.
    check_padding_invariance(encoder, *waves, atol=1e-5)


def test_embedding_matches_voice_encoder(encoder, reference: VoiceEncoder, waves) -> None:
    """Unpadded utterances' embeddings equal VoiceEncoder.forward on the same mels."""
    wav, lengths = waves
    short = wav[1:3, : int(lengths[1])]  # the two utterances of equal length
    out = encoder(short, lengths[1:3])
    mel = encoder.features(short, lengths[1:3])
    with torch.inference_mode():
        expected = reference(mel)
    torch.testing.assert_close(out["embedding"].hidden[:, 0], expected, atol=1e-5, rtol=0)


def test_layers_match_multilayer_lstm(encoder, reference: VoiceEncoder, waves) -> None:
    """lstm_k equals nn.LSTM(num_layers=k) with resemblyzer's weights, per valid frame."""
    wav, lengths = waves
    out = encoder(wav, lengths)
    mels = encoder.features(wav, lengths)
    state = reference.lstm.state_dict()
    for k in range(1, 4):
        lstm = torch.nn.LSTM(40, 256, num_layers=k, batch_first=True).eval()
        lstm.load_state_dict({n: w for n, w in state.items() if int(n[-1]) < k})
        for i, n_samples in enumerate(lengths.tolist()):
            n = n_samples // 160 + 1
            with torch.inference_mode():
                expected, (h_n, _) = lstm(mels[i : i + 1, :n])
                projection = torch.relu(reference.linear(h_n[-1]))
            got = out[f"lstm_{k}"]
            assert int(got.lengths[i]) == n
            torch.testing.assert_close(got.hidden[i, :n], expected[0], atol=1e-5, rtol=0)
            assert not got.hidden[i, n:].any()
            if k == 3:  # utterance level: from the last valid frame
                torch.testing.assert_close(
                    out["projection"].hidden[i, 0], projection[0], atol=1e-5, rtol=0
                )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(family: ResemblyzerFamily, weights: Path, waves) -> None:
    check_cuda_matches_cpu(lambda: family.load(CFG, weights), waves)
