"""strata's layer mixing against s3prl's Featurizer (``s3prl.nn.upstream``, SUPERB's weighted
sum) on the same hidden states.

Featurizer computes Σ_l softmax(w)_l h_l over layers of one width, each h_l optionally
layer-normalised first (``normalize=True``: ``F.layer_norm`` over each frame's hidden
dimension, no affine, eps 1e-5; SUPERB leaves it off). strata differs by design:

- each layer has its own linear map A_l (and bias) to a common width before the sum
  (:class:`strata.probes.nets.WeightedSum`, :class:`strata.probes.phonemes.FrameWeightedSum`):
  strata mixes layers of different widths (ECAPA's), where Featurizer asserts one width;
- each layer is standardised per dimension by its train statistics (mean and population std
  over train rows or frames, std + 1e-6), once before training, not layer-normalised per frame:
  an affine map fixed on train leaves a linear probe the information of the raw layer (it only
  evens out scales across dimensions and layers), where per-frame layer norm, dividing each
  frame by its own spread, is not affine.

Where the definitions coincide the outputs must agree: layers of one width, A_l the identity
with no bias (or one A and bias shared by every layer: the weights sum to 1, so that is A
applied to Featurizer's output), the same logits. The two normalisations coincide on a layer
c_l H_l + m_l with H_l's rows and columns all of mean 0 and variance 1: both give sign(c_l) H_l.

s3prl is not a strata dependency: the module skips unless it is importable (s3prl 0.4.18 here).
"""

from __future__ import annotations

import importlib.util
import sys
import types

import numpy as np
import pytest
import torch

from strata.probes.nets import WeightedSum
from strata.probes.phonemes import Frames, FrameWeightedSum
from strata.probes.weighted import _standardise

s3prl = pytest.importorskip("s3prl", reason="s3prl is not installed (not a strata dependency)")


def _featurizer_class() -> type:
    """s3prl's Featurizer. ``s3prl.nn.upstream`` imports ``s3prl.hub``, which imports every
    upstream; with torchaudio 2.11 (strata's pin) some of them fail at import, calling
    ``torchaudio.set_audio_backend`` or importing ``torchaudio.sox_effects``, both gone.
    Featurizer itself needs only torch, so then s3prl's own file is loaded with an empty
    ``s3prl.hub`` standing in, just while it loads."""
    try:
        from s3prl.nn.upstream import Featurizer

        return Featurizer
    except (ImportError, AttributeError):
        pass
    path = s3prl.__path__[0] + "/nn/upstream.py"
    spec = importlib.util.spec_from_file_location("s3prl_nn_upstream", path)
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules.get("s3prl.hub")
    sys.modules["s3prl.hub"] = types.ModuleType("s3prl.hub")
    try:
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            del sys.modules["s3prl.hub"]
        else:
            sys.modules["s3prl.hub"] = saved
    return module.Featurizer


Featurizer = _featurizer_class()

LAYERS, DIM, BATCH, STEPS = 4, 8, 4, 8  # BATCH * STEPS frames, a multiple of DIM
LOGITS = np.array([0.3, -1.2, 1.7, 0.4], np.float32)  # weights 0.16 / 0.03 / 0.64 / 0.17
SCALES = np.array([0.5, 3.0, -2.0, 7.0], np.float32)  # one negative: both give sign(c) H
OFFSETS = np.array([5.0, -1.0, 0.3, -4.0], np.float32)


def _featurizer(normalize: bool) -> torch.nn.Module:
    # Featurizer reads only these three from the upstream it is built for.
    upstream = types.SimpleNamespace(
        num_layers=LAYERS, hidden_sizes=[DIM] * LAYERS, downsample_rates=[320] * LAYERS
    )
    featurizer = Featurizer(upstream, normalize=normalize)
    with torch.no_grad():
        featurizer.weights.copy_(torch.from_numpy(LOGITS))
    return featurizer


def _mix_s3prl(layers: list[np.ndarray], normalize: bool) -> np.ndarray:
    """Featurizer's output on frames (BATCH * STEPS, DIM) per layer, flattened back."""
    hs = [torch.from_numpy(x).reshape(BATCH, STEPS, DIM) for x in layers]
    lens = [torch.full((BATCH,), STEPS, dtype=torch.long)] * LAYERS
    with torch.no_grad():
        out, out_lens = _featurizer(normalize)(hs, lens)
    assert out_lens.tolist() == [STEPS] * BATCH
    return out.reshape(-1, DIM).numpy()


def _pooled_sum(width: int, a: np.ndarray, bias: np.ndarray) -> WeightedSum:
    """strata's numpy weighted sum with A_l = ``a`` and bias for every layer."""
    net = WeightedSum(np.random.default_rng(0), [DIM] * LAYERS, width, classes=2)
    net.params["layer_logits"][...] = LOGITS
    for i in range(LAYERS):
        net.params[f"projection_{i}_weight"][...] = a
        net.params[f"projection_{i}_bias"][...] = bias
    return net


def _frame_sum(width: int, a: np.ndarray, bias: np.ndarray) -> FrameWeightedSum:
    """strata's torch weighted sum (the CTC probe's) with A_l = ``a`` and bias for every layer."""
    stats = [(np.zeros(DIM), np.ones(DIM))] * LAYERS  # buffers only: frames come standardised
    front = FrameWeightedSum(stats, width)
    with torch.no_grad():
        front.logits.copy_(torch.from_numpy(LOGITS))
        for projection in front.projections:
            projection.weight.copy_(torch.from_numpy(a))
            projection.bias.copy_(torch.from_numpy(bias))
    return front


def _frames(x: np.ndarray) -> Frames:
    """Frames of BATCH utterances of STEPS frames each."""
    starts = np.arange(BATCH, dtype=np.int64) * STEPS
    return Frames(torch.from_numpy(x.copy()), starts, np.full(BATCH, STEPS, np.int64))


def _mix_frames(front: FrameWeightedSum, frames: list[Frames]) -> np.ndarray:
    rows = np.arange(BATCH)
    with torch.no_grad():
        out = front([f.batch(rows) for f in frames])
    return out.reshape(BATCH * STEPS, -1).numpy()


def _doubly_standard(rng: np.random.Generator) -> np.ndarray:
    """(BATCH * STEPS, DIM) whose rows and columns all have mean 0 and variance 1: rows are
    cyclic shifts of one standardised vector, each shift BATCH * STEPS / DIM times, shuffled."""
    s = rng.standard_normal(DIM)
    s = (s - s.mean()) / s.std()
    n = BATCH * STEPS
    shifts = (np.arange(n)[:, None] + np.arange(DIM)) % DIM
    return s[shifts][rng.permutation(n)].astype(np.float32)


def _identity() -> tuple[np.ndarray, np.ndarray]:
    return np.eye(DIM, dtype=np.float32), np.zeros(DIM, np.float32)


def test_the_layer_weights_read_the_same():
    """One-hot layers (layer l is e_l at every frame) make each mix return its weights.
    Measured difference 4e-8 (float32 softmax)."""
    one_hot = [np.tile(np.eye(DIM, dtype=np.float32)[i], (BATCH * STEPS, 1)) for i in range(LAYERS)]
    s3prl_weights = _mix_s3prl(one_hot, normalize=False)[:, :LAYERS]
    pooled = _pooled_sum(DIM, *_identity())
    frame = _mix_frames(_frame_sum(DIM, *_identity()), [_frames(x) for x in one_hot])
    expected = np.exp(LOGITS) / np.exp(LOGITS).sum()
    for weights in (s3prl_weights, pooled.embed(one_hot)[:, :LAYERS], frame[:, :LAYERS]):
        np.testing.assert_allclose(weights, np.tile(expected, (BATCH * STEPS, 1)), atol=1e-7)
    # The reading strata records (usage()["weights"]): Featurizer's softmax of the same logits.
    np.testing.assert_allclose(pooled.usage(one_hot)["weights"], s3prl_weights[0], atol=1e-7)


def test_the_mix_of_standardised_layers_equals_featurizer():
    """normalize=False (SUPERB's setting) on layers strata has standardised: strata's mix with
    identity projections is Featurizer's; with one A shared by every layer it is A applied to
    Featurizer's output. Measured max difference 2.4e-7 (identity) and 7.2e-7 (A, outputs up
    to 6.6): float32 summation order."""
    rng = np.random.default_rng(1)
    layers = [
        c * rng.standard_normal((BATCH * STEPS, DIM), dtype=np.float32) + m
        for c, m in zip(SCALES, OFFSETS)
    ]
    _standardise(layers, np.arange(BATCH * STEPS))
    s3prl_mix = _mix_s3prl(layers, normalize=False)
    frames = [_frames(x) for x in layers]
    np.testing.assert_allclose(_pooled_sum(DIM, *_identity()).embed(layers), s3prl_mix, atol=1e-6)
    np.testing.assert_allclose(
        _mix_frames(_frame_sum(DIM, *_identity()), frames), s3prl_mix, atol=1e-6
    )
    a = rng.standard_normal((5, DIM)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    projected = s3prl_mix @ a.T + bias
    np.testing.assert_allclose(_pooled_sum(5, a, bias).embed(layers), projected, atol=5e-6)
    np.testing.assert_allclose(_mix_frames(_frame_sum(5, a, bias), frames), projected, atol=5e-6)


def test_standardisation_then_mix_equals_featurizer_with_layer_norm():
    """normalize=True on raw layers c_l H_l + m_l equals strata's standardise-then-mix, by both
    of strata's standardisations (numpy on pooled rows, torch on frames). Tolerance 2e-5: the
    epsilons (layer_norm's 1e-5 under the variance, strata's 1e-6 added to the std) scale the
    output by 1 - 5e-6 and 1 - 1e-6 / |c_l|, under 1.3e-5 on outputs below 1.8; measured
    7e-6."""
    rng = np.random.default_rng(2)
    raw = [c * _doubly_standard(rng) + m for c, m in zip(SCALES, OFFSETS)]
    s3prl_mix = _mix_s3prl(raw, normalize=True)

    pooled = [x.copy() for x in raw]
    _standardise(pooled, np.arange(BATCH * STEPS))
    np.testing.assert_allclose(_pooled_sum(DIM, *_identity()).embed(pooled), s3prl_mix, atol=2e-5)
    frames = [_frames(x) for x in raw]
    for f in frames:
        f.standardise(np.arange(BATCH))
    np.testing.assert_allclose(
        _mix_frames(_frame_sum(DIM, *_identity()), frames), s3prl_mix, atol=2e-5
    )
    # It means something: without normalisation the offsets and scales dominate the mix.
    assert np.abs(_mix_s3prl(raw, normalize=False) - s3prl_mix).max() > 1.0
