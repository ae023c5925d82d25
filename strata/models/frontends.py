"""Acoustic front ends of speaker models (a registry): waves → features, exact on padded batches.

Each is declared by the model config or read from the checkpoint, never guessed:

- ``speechbrain_fbank``: SpeechBrain's ``Fbank`` (log-mel, centred STFT with zero padding) and
  per-utterance mean normalisation (``InputNormalization(norm_type="sentence")``), as in the
  SpeechBrain ECAPA recipes and ``spkrec-ecapa-voxceleb``.
- ``rdino_logmel``: 3D-Speaker's RDINO input: torchaudio ``MelSpectrogram`` (n_fft 512, 25 ms
  window, 10 ms hop, centred with reflection), then ``log(x + 1e-6)`` and instance norm over
  time (the model's first two steps, moved here so the backbone is plain ECAPA).
- ``kaldi_fbank``: wespeaker's input: Kaldi fbank (25 ms Hamming window, 10 ms hop, no dither,
  no edge padding) of 16-bit-scaled samples, then per-utterance mean subtraction (CMN).

Every front end returns features (B, n_mels, T) and each utterance's valid frame count; frames
past it are unspecified. Padding never changes a valid frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from strata.models.base import SAMPLE_RATE
from strata.models.ragged import masked_mean, masked_var, pad_tails, relative_lengths, time_mask

if TYPE_CHECKING:
    import torch

# Fbank arguments a hyperparams.yaml may set (others would change what the front end means).
FBANK_ARGS = frozenset(
    {"n_mels", "n_fft", "win_length", "hop_length", "f_min", "f_max", "sample_rate"}
    | {"deltas", "context", "left_frames", "right_frames", "requires_grad"}
)
NORM_ARGS = frozenset({"norm_type", "std_norm"})


@dataclass
class SpeechbrainFbank:
    name: ClassVar[str] = "speechbrain_fbank"
    n_mels: int = 80
    fbank_args: dict[str, Any] = field(default_factory=dict)
    norm_args: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        args = {"n_mels": self.n_mels, **self.fbank_args}
        if args.get("deltas") or args.get("context"):
            raise ValueError("speechbrain_fbank: deltas and context windows are not supported")
        if args.get("sample_rate", SAMPLE_RATE) != SAMPLE_RATE:
            raise ValueError(f"speechbrain_fbank: sample_rate must be {SAMPLE_RATE}")
        norm = {"norm_type": "sentence", "std_norm": False, **self.norm_args}
        if norm["norm_type"] != "sentence":
            raise ValueError(f"speechbrain_fbank: norm_type {norm['norm_type']!r} unsupported")
        self.fbank_args, self.norm_args, self.n_mels = args, norm, args["n_mels"]
        self._modules: tuple[Any, Any] | None = None

    @property
    def frame_rate(self) -> float:
        return 1000.0 / self.fbank_args.get("hop_length", 10)

    def to(self, device: Any) -> SpeechbrainFbank:
        fbank, norm = self.modules()
        fbank.to(device), norm.to(device)
        return self

    def modules(self) -> tuple[Any, Any]:
        if self._modules is None:
            from speechbrain.lobes.features import Fbank
            from speechbrain.processing.features import InputNormalization

            self._modules = Fbank(**self.fbank_args).eval(), InputNormalization(**self.norm_args)
        return self._modules

    def __call__(self, waves: torch.Tensor, lengths: torch.Tensor):
        fbank, norm = self.modules()
        hop = round(SAMPLE_RATE / self.frame_rate)
        feats = fbank(waves)  # zero padding at the end is what each row alone gets too
        frames = lengths // hop + 1
        feats = norm.eval()(feats, relative_lengths(frames, feats.shape[1]))
        return feats.transpose(1, 2), frames


@dataclass
class RdinoLogMel:
    name: ClassVar[str] = "rdino_logmel"
    n_mels: int = 80
    frame_rate: float = 100.0
    n_fft: ClassVar[int] = 512
    _mel: Any = None

    def modules(self) -> Any:
        if self._mel is None:
            from torchaudio.transforms import MelSpectrogram

            self._mel = MelSpectrogram(
                sample_rate=SAMPLE_RATE,
                n_fft=self.n_fft,
                win_length=400,
                hop_length=160,
                f_min=0.0,
                f_max=8000,
                pad=0,
                n_mels=self.n_mels,
            )
        return self._mel

    def to(self, device: Any) -> RdinoLogMel:
        self.modules().to(device)
        return self

    def __call__(self, waves: torch.Tensor, lengths: torch.Tensor):
        import torch.nn.functional as F

        half = self.n_fft // 2
        # Each row's centred STFT reflects its own end, as it would alone.
        waves = pad_tails(F.pad(waves, (0, half))[:, None], lengths, half, "reflect")[:, 0]
        feats = (self.modules()(waves) + 1e-6).log()
        frames = lengths // 160 + 1
        mask = time_mask(frames, feats.shape[-1])
        normed = (feats - masked_mean(feats, mask)) / (masked_var(feats, mask) + 1e-5).sqrt()
        return normed, frames


@dataclass
class KaldiFbank:
    name: ClassVar[str] = "kaldi_fbank"
    n_mels: int = 80
    frame_rate: float = 100.0

    def to(self, device: Any) -> KaldiFbank:
        return self

    def __call__(self, waves: torch.Tensor, lengths: torch.Tensor):
        import torch
        import torchaudio.compliance.kaldi as kaldi

        frames = (lengths - 400) // 160 + 1
        short = (frames < 1).nonzero().flatten().tolist()
        if short:
            raise ValueError(f"kaldi_fbank: utterances {short} are shorter than one 25 ms frame")
        feats = waves.new_zeros(len(lengths), self.n_mels, int(frames.max()))
        for row, length in enumerate(lengths.tolist()):
            fbank = kaldi.fbank(
                waves[row : row + 1, :length] * (1 << 15),
                num_mel_bins=self.n_mels,
                frame_length=25,
                frame_shift=10,
                dither=0.0,
                sample_frequency=SAMPLE_RATE,
                window_type="hamming",
            )
            feats[row, :, : len(fbank)] = (fbank - fbank.mean(0)).T
        return feats, frames.to(torch.long)


FRONTENDS: dict[str, type] = {f.name: f for f in (SpeechbrainFbank, RdinoLogMel, KaldiFbank)}
