"""Resemblyzer's pretrained GE2E speaker encoder (3-layer LSTM + linear + ReLU), layer by layer.

Layers: ``lstm_1..3`` (frame level, 100 Hz) and two utterance-level layers from the last *valid*
frame of ``lstm_3``: ``projection`` (relu(linear(h))) and ``embedding`` (L2-normalised).

Preprocessing, per utterance over its valid samples only (so padding cannot leak): resemblyzer's
volume normalisation to -30 dBFS (increase only), as ``preprocess_wav`` applies it, because the
LSTM saw normalised audio in training and is not gain-invariant (mels are power spectra); then
``wav_to_mel_spectrogram`` (librosa power mel, 25 ms window, 10 ms hop, 40 mels). Resemblyzer's
VAD silence trimming is *not* applied: it would drop frames and break the alignment of frames to
time that frame-level probing relies on. Nor are utterances split into 1.6 s partials as
``embed_utterance`` does: ``embedding`` is the whole-utterance forward pass.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strata.models.base import (
    SAMPLE_RATE,
    Encoder,
    LayerSpec,
    ModelFamily,
    check_lengths,
    layer_outputs,
)

if TYPE_CHECKING:
    import numpy as np
    import torch

# resemblyzer.hparams, copied so features need neither resemblyzer nor its webrtcvad import.
N_FFT = SAMPLE_RATE * 25 // 1000
HOP = SAMPLE_RATE * 10 // 1000
N_MELS = 40
TARGET_DBFS = -30
INT16_MAX = (2**15) - 1
NUM_LAYERS = 3
HIDDEN = 256  # model_hidden_size
EMBEDDING = 256  # model_embedding_size
FRAME_RATE = SAMPLE_RATE / HOP

LAYERS = [
    *(LayerSpec(f"lstm_{i}", FRAME_RATE, HIDDEN) for i in range(1, NUM_LAYERS + 1)),
    LayerSpec("projection", None, EMBEDDING),
    LayerSpec("embedding", None, EMBEDDING),
]


def default_weights() -> Path:
    """resemblyzer/pretrained.pt, located without importing resemblyzer (which imports torch)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("resemblyzer is not installed; set 'path' to a GE2E .pt file")
    return Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"


def normalize_volume(wav: np.ndarray) -> np.ndarray:
    """resemblyzer.audio.normalize_volume(wav, -30, increase_only=True), safe for silence."""
    import numpy as np

    rms = np.sqrt(np.mean((wav * INT16_MAX) ** 2))
    if rms == 0:  # resemblyzer would multiply by inf and return NaNs
        return wav
    change = TARGET_DBFS - 20 * np.log10(rms / INT16_MAX)
    if change < 0:
        return wav
    return wav * (10 ** (change / 20))


def mel_spectrogram(wav: np.ndarray) -> np.ndarray:
    """resemblyzer.audio.wav_to_mel_spectrogram: (frames, 40) power mel, not log."""
    import librosa
    import numpy as np

    frames = librosa.feature.melspectrogram(
        y=wav, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS
    )
    return frames.astype(np.float32).T


class ResemblyzerFamily(ModelFamily):
    name = "resemblyzer"

    def layer_specs(self, cfg: dict[str, Any]) -> list[LayerSpec]:
        return list(LAYERS)

    def materialise(self, cfg: dict[str, Any], out_dir: Path) -> Path:
        path = Path(cfg["path"]) if "path" in cfg else default_weights()
        if not path.is_file():
            raise FileNotFoundError(f"resemblyzer: weights file not found: {path}")
        return path

    def weight_files(self, checkpoint: Path) -> list[Path]:
        return [Path(checkpoint)]

    def load(self, cfg: dict[str, Any], checkpoint: Path) -> Encoder:
        import torch

        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        # resemblyzer checkpoints hold {"step", "model_state", "optimizer_state"}.
        state = state.get("model_state", state)
        return GE2EEncoder(*_modules(state, checkpoint))


def _modules(state: dict[str, Any], source: Path) -> tuple[list[Any], Any]:
    """Single-layer LSTMs with the multi-layer LSTM's weights, and the projection."""
    from torch import nn

    def take(key: str) -> Any:
        if key not in state:
            raise KeyError(f"resemblyzer: {source} lacks weight {key!r}")
        return state[key]

    lstms = []
    for k in range(NUM_LAYERS):
        w_ih, w_hh = take(f"lstm.weight_ih_l{k}"), take(f"lstm.weight_hh_l{k}")
        lstm = nn.LSTM(w_ih.shape[1], w_hh.shape[1], batch_first=True)
        lstm.load_state_dict(
            {
                "weight_ih_l0": w_ih,
                "weight_hh_l0": w_hh,
                "bias_ih_l0": take(f"lstm.bias_ih_l{k}"),
                "bias_hh_l0": take(f"lstm.bias_hh_l{k}"),
            }
        )
        lstms.append(lstm.eval())
    weight = take("linear.weight")
    linear = nn.Linear(weight.shape[1], weight.shape[0])
    linear.load_state_dict({"weight": weight, "bias": take("linear.bias")})
    return lstms, linear.eval()


class GE2EEncoder(Encoder):
    """GE2E LSTMs run on packed sequences, so padded frames never enter a valid frame's state."""

    layers = LAYERS

    def __init__(self, lstms: list[Any], linear: Any) -> None:
        self.lstms = lstms
        self.linear = linear

    def to(self, device: str | torch.device) -> GE2EEncoder:
        for module in (*self.lstms, self.linear):
            module.to(device)
        return self

    def features(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Zero-padded mels (B, S // hop + 1, 40) of each utterance's valid samples (on CPU)."""
        import numpy as np
        import torch

        wav_np = waves.detach().cpu().numpy().astype(np.float32)
        mels = torch.zeros(len(wav_np), wav_np.shape[1] // HOP + 1, N_MELS)
        for i, length in enumerate(lengths.tolist()):
            mel = mel_spectrogram(normalize_volume(wav_np[i, :length]))
            mels[i, : len(mel)] = torch.from_numpy(mel)
        return mels

    def __call__(self, waves: torch.Tensor, lengths: torch.Tensor):
        import torch
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        with torch.inference_mode():
            lengths = lengths.cpu().long()
            check_lengths(lengths, waves.shape[1])
            device = self.linear.weight.device
            mels = self.features(waves, lengths).to(device)
            frames = lengths // HOP + 1  # librosa's centred STFT
            x = pack_padded_sequence(mels, frames, batch_first=True, enforce_sorted=False)
            hidden = []
            for lstm in self.lstms:
                x, (h_n, _) = lstm(x)
                hidden.append(
                    pad_packed_sequence(x, batch_first=True, total_length=mels.shape[1])[0]
                )
            # h_n is the state at each utterance's last valid frame, in input order.
            projection = torch.relu(self.linear(h_n[-1]))
            # As resemblyzer, but an all-zero projection stays zero instead of becoming NaN.
            norm = torch.norm(projection, dim=1, keepdim=True).clamp_min(1e-12)
            embedding = projection / norm
            outputs = [*hidden, projection[:, None], embedding[:, None]]
            return layer_outputs(self.layers, outputs, frames.to(device))
