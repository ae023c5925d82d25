"""Front ends against their reference libraries, utterance by utterance, and exact batches."""

import pytest
import torch
from model_checks import make_waves
from speechbrain.lobes.features import Fbank
from speechbrain.processing.features import InputNormalization
from torchaudio.transforms import MelSpectrogram

from strata.models.frontends import FRONTENDS, KaldiFbank, RdinoLogMel, SpeechbrainFbank
from strata.models.ragged import masked_var, pad_tails, time_mask


def alone(frontend, waves, lengths, row):
    n = int(lengths[row])
    feats, frames = frontend(waves[row : row + 1, :n], lengths[row : row + 1])
    return feats[0, :, : int(frames[0])]


@pytest.mark.parametrize("name", sorted(FRONTENDS))
def test_a_padded_batch_gives_each_utterance_what_it_gives_alone(name):
    waves, lengths = make_waves()
    frontend = FRONTENDS[name](n_mels=40)
    feats, frames = frontend(waves, lengths)
    for row in range(len(lengths)):
        expected = alone(frontend, waves, lengths, row)
        assert int(frames[row]) == expected.shape[1]
        torch.testing.assert_close(feats[row, :, : expected.shape[1]], expected, atol=1e-5, rtol=0)


def test_speechbrain_fbank_is_fbank_plus_sentence_mean_norm():
    waves, lengths = make_waves()
    norm = InputNormalization(norm_type="sentence", std_norm=False)
    for row, n in enumerate(lengths.tolist()):
        expected = norm(Fbank(n_mels=40)(waves[row : row + 1, :n]))[0].T
        torch.testing.assert_close(
            alone(SpeechbrainFbank(n_mels=40), waves, lengths, row), expected
        )


def test_rdino_logmel_is_log_mel_with_instance_norm():
    waves, lengths = make_waves()
    mel = MelSpectrogram(16000, n_fft=512, win_length=400, hop_length=160, n_mels=40)
    for row, n in enumerate(lengths.tolist()):
        expected = torch.nn.InstanceNorm1d(40)((mel(waves[row : row + 1, :n]) + 1e-6).log())[0]
        got = alone(RdinoLogMel(n_mels=40), waves, lengths, row)
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_kaldi_fbank_rejects_audio_shorter_than_a_window():
    with pytest.raises(ValueError, match=r"utterances \[1\] are shorter than one 25 ms frame"):
        KaldiFbank()(torch.zeros(2, 800), torch.tensor([800, 399]))


def test_pad_tails_writes_each_rows_reflection_or_zeros():
    x = torch.arange(12.0).reshape(1, 1, 12).repeat(2, 1, 1)
    lengths = torch.tensor([5, 8])
    out = pad_tails(x, lengths, 2, "reflect")
    for row, n in enumerate(lengths.tolist()):
        expected = torch.nn.functional.pad(x[row : row + 1, :, :n], (0, 2), mode="reflect")
        assert torch.equal(out[row, :, : n + 2], expected[0])
    assert torch.equal(pad_tails(x, lengths, 2, "zeros")[0, 0, 5:7], torch.zeros(2))
    with pytest.raises(ValueError, match="too short"):
        pad_tails(x, torch.tensor([2, 8]), 2, "reflect")


def test_masked_var_matches_torch_var_on_the_valid_part():
    x = torch.randn(3, 4, 10)
    lengths = torch.tensor([10, 6, 2])
    var = masked_var(x, time_mask(lengths, 10), correction=1)
    for row, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(var[row, :, 0], x[row, :, :n].var(-1))
