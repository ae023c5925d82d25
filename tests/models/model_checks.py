"""Shared checks for model-family adapters (imported by the tests in this folder)."""

from __future__ import annotations

import torch

from strata.models import contract
from strata.models.base import SAMPLE_RATE, Encoder, LayerSpec
from strata.provenance import sha256_files

# Four utterances: 1.0 s, two different ones of 0.6 s (one group of equal length) and 0.37 s,
# zero-padded to 1.0 s.
LONG, SHORT, SHORTER = SAMPLE_RATE, int(0.6 * SAMPLE_RATE) + 37, int(0.37 * SAMPLE_RATE) + 11
LENGTHS = (LONG, SHORT, SHORT, SHORTER)


def make_waves(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A padded batch of speech-like signals (harmonics + noise) of LENGTHS."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(LONG) / SAMPLE_RATE
    waves = torch.zeros(len(LENGTHS), LONG)
    for row, (f0, n) in enumerate(zip((120.0, 210.0, 165.0, 95.0), LENGTHS, strict=True)):
        harmonics = sum(torch.sin(2 * torch.pi * f0 * k * t) / k for k in range(1, 6))
        waves[row, :n] = (0.1 * harmonics + 0.01 * torch.randn(LONG, generator=gen))[:n]
    return waves, torch.tensor(LENGTHS)


def check_outputs(
    encoder: Encoder,
    specs: list[LayerSpec],
    waves: torch.Tensor,
    lengths: torch.Tensor,
    frames=None,
) -> dict:
    """Names/order match layer_specs; shapes are (B, T, D) with T set by the frame rate and D
    the declared width;
    ``frames(samples) -> count``, when given, is each frame layer's exact valid length."""
    out = encoder(waves, lengths)
    assert [s.name for s in specs] == [s.name for s in encoder.layers] == list(out)
    for spec in specs:
        layer = out[spec.name]
        assert layer.hidden.ndim == 3 and layer.hidden.shape[0] == len(lengths), spec.name
        assert torch.isfinite(layer.hidden).all(), spec.name
        assert layer.hidden.shape[2] == spec.dim, (spec.name, spec.dim)  # what a plan counts
        if spec.frame_rate is None:
            assert layer.hidden.shape[1] == 1 and layer.lengths.tolist() == [1] * len(lengths)
            continue
        expected = [spec.frame_rate * n / SAMPLE_RATE for n in lengths.tolist()]
        for got, want in zip(layer.lengths.tolist(), expected, strict=True):
            assert abs(got - want) <= 3, (spec.name, got, want)  # edges: up to a window
        if frames is not None:
            assert layer.lengths.tolist() == [frames(n) for n in lengths.tolist()], spec.name
        padded = spec.frame_rate * waves.shape[1] / SAMPLE_RATE
        assert abs(layer.hidden.shape[1] - padded) <= 3, spec.name
        assert layer.hidden.shape[1] >= max(layer.lengths.tolist()), spec.name
    # What extraction checks on real audio passes too (no false alarm on a family's own model).
    assert contract.check_layers("m", specs, out, lengths, SAMPLE_RATE) == specs
    return out


def check_padding_invariance(
    encoder: Encoder, waves: torch.Tensor, lengths: torch.Tensor, atol: float = 1e-4
) -> None:
    """Every utterance alone equals its valid frames when padded in the batch."""
    batched = encoder(waves, lengths)
    singles = []
    for row, length in enumerate(lengths.tolist()):
        alone = encoder(waves[row : row + 1, :length].clone(), lengths[row : row + 1])
        singles.append(alone)
        for name, layer in batched.items():
            n = int(alone[name].lengths[0])
            assert int(layer.lengths[row]) == n, name
            torch.testing.assert_close(
                layer.hidden[row, :n],
                alone[name].hidden[0, :n],
                atol=atol,
                rtol=1e-4,
                msg=lambda m, name=name, row=row: f"{name}, utterance {row}: {m}",
            )
    contract.check_padding("m", batched, singles, [str(i) for i in range(len(singles))])


def check_round_trip(family, make_cfg, ckpt, tmp_path, waves) -> list:
    """Same seed → byte-identical weights and outputs; another seed → other weights."""
    again = family.materialise(make_cfg(), tmp_path / "same")
    other = family.materialise(make_cfg(seed=1), tmp_path / "other")
    files = family.weight_files(ckpt)
    assert sha256_files(files) == sha256_files(family.weight_files(again))
    assert sha256_files(files) != sha256_files(family.weight_files(other))
    a = family.load(make_cfg(), ckpt)(*waves)
    b = family.load(make_cfg(), again)(*waves)
    for name in a:
        assert torch.equal(a[name].hidden, b[name].hidden), name
    return files


def check_cuda_matches_cpu(load, waves) -> None:
    """``load()`` twice: on CUDA (float32 proper, as extraction runs it: no TF32), every layer
    matches CPU to fp tolerance, lengths exactly."""
    from strata.features.extract import compute_precision

    cpu = load()
    assert cpu.to("cpu") is cpu
    expected = cpu(*waves)
    with compute_precision(torch.device("cuda"), "float32"):
        got = load().to("cuda")(*waves)
    for name, layer in expected.items():
        assert got[name].hidden.is_cuda, name
        torch.testing.assert_close(got[name].hidden.cpu(), layer.hidden, atol=1e-4, rtol=1e-3)
        assert torch.equal(got[name].lengths.cpu(), layer.lengths.cpu()), name
