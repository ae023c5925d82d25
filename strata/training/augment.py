"""Waveform augmentation for speaker training: speed and volume perturbation, and additive
noise (white, or babble from another training utterance) at a random SNR.

Corpora of real noise (MUSAN, RIRs) cannot be assumed offline; babble from the training set and
white noise are the stand-ins. Every draw comes from the caller's generator, so an epoch is
reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Augment:
    speeds: tuple[float, ...] = (0.9, 1.0, 1.1)
    gain_db: float = 6.0
    noise_prob: float = 0.6
    snr_db: tuple[float, float] = (5.0, 20.0)

    @classmethod
    def from_config(cls, cfg: dict[str, Any] | None) -> Augment | None:
        """None (no augmentation) for no block; an empty block takes every default."""
        if cfg is None:
            return None
        return cls(
            speeds=tuple(cfg.get("speeds", cls.speeds)),
            gain_db=cfg.get("gain_db", cls.gain_db),
            noise_prob=cfg.get("noise_prob", cls.noise_prob),
            snr_db=tuple(cfg.get("snr_db", cls.snr_db)),
        )

    def speed(self, wave: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Speed perturbation (tempo and pitch together, as Kaldi's)."""
        import torch
        import torchaudio.functional as AF

        factor = self.speeds[int(torch.randint(len(self.speeds), (1,), generator=g))]
        if factor == 1.0:
            return wave
        # A ratio of small integers keeps the polyphase kernel small: 1.1 = 11/10 resamples
        # 11 samples to 10, so the wave plays 10 % faster.
        ratio = Fraction(factor).limit_denominator(100)
        return AF.resample(wave, orig_freq=ratio.numerator, new_freq=ratio.denominator)

    def mix(self, wave: torch.Tensor, babble: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Volume gain, then (with ``noise_prob``) white noise or ``babble`` at a random SNR."""
        import torch

        u = torch.rand(4, generator=g)
        gain = 10 ** ((2 * float(u[0]) - 1) * self.gain_db / 20)
        wave = wave * gain
        if float(u[1]) >= self.noise_prob:
            return wave
        if float(u[2]) < 0.5:
            noise = torch.randn(wave.shape, generator=g)
        else:
            noise = babble.repeat(len(wave) // len(babble) + 1)[: len(wave)]
        low, high = self.snr_db
        snr = low + float(u[3]) * (high - low)
        power = wave.pow(2).mean().clamp_min(1e-10)
        scale = (power / noise.pow(2).mean().clamp_min(1e-10) / 10 ** (snr / 10)).sqrt()
        return wave + scale * noise
