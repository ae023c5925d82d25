"""wespeaker_ecapa against wespeaker's own code (PyPI ``wespeaker-unofficial``): a random
wespeaker ECAPA_TDNN saved as a released model dir (avg_model.pt + config.yaml), read by
wespeaker's loader and by strata's adapter; wespeaker's inference front end against strata's;
every strata layer against the matching wespeaker module's output.

wespeaker's ``__init__`` imports its CLI, which needs silero_vad, kaldiio, s3prl, openai-whisper,
umap-learn, hdbscan, peft and accelerate; the model needs none of them. So the package is
installed without dependencies and only ``wespeaker.models.ecapa_tdnn`` (with its
``pooling_layers``) and ``wespeaker.utils.checkpoint`` are imported, under a stand-in for the
top-level package; ``Speaker.compute_features`` is taken from the source of ``cli/speaker.py``.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import types
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchaudio.compliance.kaldi as kaldi
import yaml
from model_checks import make_waves

from strata.models.wespeaker import WespeakerFamily

# Layers reach |x| ~ 3; the two float32 forward passes differ by at most 1.8e-6 (asp), 1.3e-6
# elsewhere. Scaling any one weight tensor by 1% moves every layer from its own on by more.
TOLERANCE = {"rtol": 0.0, "atol": 1e-5}
# strata layer -> wespeaker module whose output it is ("mfa" is ReLU(conv), applied in forward).
HOOKED = {
    "tdnn": "layer1",
    "seres2net_1": "layer2",
    "seres2net_2": "layer3",
    "seres2net_3": "layer4",
    "mfa": "conv",
    "asp": "pool",
}
LAYERS = [*HOOKED, "embedding"]
# (config.yaml model, emb_bn): the DINO backbone strata studies and a released c1024 model.
VARIANTS = [("ECAPA_TDNN_GLOB_c512", True), ("ECAPA_TDNN_c1024", False)]


def import_wespeaker() -> types.SimpleNamespace:
    """wespeaker's model module, checkpoint loader and inference fbank, without its __init__."""
    spec = importlib.util.find_spec("wespeaker")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(
            "needs wespeaker-unofficial==0.0.2 (pip install --no-deps)", allow_module_level=True
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    saved = {k: v for k, v in sys.modules.items() if k.partition(".")[0] == "wespeaker"}
    stand_in = types.ModuleType("wespeaker")
    stand_in.__path__ = [str(root)]
    sys.modules["wespeaker"] = stand_in
    try:
        ecapa = pytest.importorskip("wespeaker.models.ecapa_tdnn")
        checkpoint = pytest.importorskip("wespeaker.utils.checkpoint")
    finally:  # leave sys.modules as found: the stand-in lacks the real package's API
        for name in [k for k in sys.modules if k.partition(".")[0] == "wespeaker"]:
            del sys.modules[name]
        sys.modules.update(saved)
    tree = ast.parse((root / "cli" / "speaker.py").read_text())
    speaker = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Speaker")
    method = next(n for n in speaker.body if getattr(n, "name", "") == "compute_features")
    scope = {"torch": torch, "kaldi": kaldi}
    exec(compile(ast.Module([method], []), str(root / "cli" / "speaker.py"), "exec"), scope)
    return types.SimpleNamespace(
        ecapa=ecapa, load_checkpoint=checkpoint.load_checkpoint, features=scope["compute_features"]
    )


wespeaker = import_wespeaker()


def wespeaker_fbank(wave: torch.Tensor) -> torch.Tensor:
    """Speaker.compute_features on one utterance (1, S) as Speaker.extract_embedding reads it:
    torchaudio.load(normalize=False), i.e. int16 sample values; (1, T, 80) after CMN."""
    speaker = types.SimpleNamespace(
        model=types.SimpleNamespace(frontend_type="fbank"), window_type="hamming"
    )
    return wespeaker.features(speaker, wave * (1 << 15), sample_rate=16000, cmn=True)


def write_model_dir(directory: Path, variant: str, emb_bn: bool) -> None:
    """A released wespeaker model dir from wespeaker's own class: default init (seed 0), every
    BatchNorm's affine and running statistics redrawn (at init they are the identity, which
    would hide a BatchNorm applied in the wrong place), a training classifier included."""
    args = {"feat_dim": 80, "embed_dim": 192, "pooling_func": "ASTP", "emb_bn": emb_bn}
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = getattr(wespeaker.ecapa, variant)(**args)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)):
            bn.weight.copy_(1 + 0.3 * torch.randn(bn.weight.shape, generator=gen))
            bn.bias.copy_(0.2 * torch.randn(bn.bias.shape, generator=gen))
            bn.running_mean.copy_(0.2 * torch.randn(bn.running_mean.shape, generator=gen))
            bn.running_var.copy_(0.5 + torch.rand(bn.running_var.shape, generator=gen))
        # At default init attention logits vary by ~0.015 over time (uniform weights) and SE gates
        # sit at 0.5 +- 0.02, so neither branch would shape the output; scaled, ~1.5 and +- 0.15.
        model.pool.linear1.weight.mul_(6)
        model.pool.linear2.weight.mul_(20)
        for block in (model.layer2, model.layer3, model.layer4):
            block.se_res2block[3].linear1.weight.mul_(3)
            block.se_res2block[3].linear2.weight.mul_(3)
    state = model.state_dict() | {"projection.weight": torch.zeros(10, 192)}  # both drop it
    torch.save(state, directory / "avg_model.pt")
    conf = {"model": variant, "model_args": args}
    (directory / "config.yaml").write_text(yaml.safe_dump(conf, sort_keys=False))


def load_wespeaker(directory: Path) -> torch.nn.Module:
    """cli.speaker.load_model_pt for an fbank model: get_speaker_model (getattr on ecapa_tdnn
    for ECAPA_TDNN names), load_checkpoint, eval."""
    conf = yaml.load((directory / "config.yaml").read_text(), Loader=yaml.FullLoader)
    model = getattr(wespeaker.ecapa, conf["model"])(**conf["model_args"])
    wespeaker.load_checkpoint(model, str(directory / "avg_model.pt"))
    return model.eval()


def wespeaker_layers(model: torch.nn.Module, feats: torch.Tensor) -> dict[str, torch.Tensor]:
    """strata's layers from wespeaker's forward on one utterance: (T, D) or (1, D)."""
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        getattr(model, module).register_forward_hook(
            lambda _m, _i, out, layer=layer: seen.__setitem__(layer, out)
        )
        for layer, module in HOOKED.items()
    ]
    try:
        with torch.no_grad():
            out4, embedding = model(feats)
    finally:
        for hook in hooks:
            hook.remove()
    assert torch.equal(out4, seen["seres2net_3"])
    seen["mfa"], seen["embedding"] = F.relu(seen["mfa"]), embedding
    return {k: v[0].T if v.dim() == 3 else v for k, v in seen.items()}


def strata_rows(outputs: dict, row: int) -> dict[str, torch.Tensor]:
    """One utterance's valid steps of every strata layer."""
    return {k: o.hidden[row, : int(o.lengths[row])] for k, o in outputs.items()}


def assert_layer_close(ours: torch.Tensor, theirs: torch.Tensor, layer: str) -> None:
    torch.testing.assert_close(ours, theirs, **TOLERANCE, msg=lambda text: f"{layer}: {text}")


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Four utterances (0.37-1 s) zero-padded to one batch, on the int16 grid so that both front
    ends see the same sample values."""
    waves, lengths = make_waves()
    return (waves * (1 << 15)).round() / (1 << 15), lengths


@pytest.fixture(scope="module", params=VARIANTS, ids=[v for v, _ in VARIANTS])
def model_dir(request, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp(request.param[0])
    write_model_dir(directory, *request.param)
    return directory


def load_strata(directory: Path):
    family = WespeakerFamily()
    cfg = {"family": "wespeaker_ecapa", "init": "pretrained", "path": str(directory)}
    return family.load(cfg, family.materialise(cfg, directory))


@pytest.fixture(scope="module")
def reference(model_dir, batch) -> list[dict[str, torch.Tensor]]:
    """wespeaker's layers per utterance, each run alone (wespeaker has no padding)."""
    model = load_wespeaker(model_dir)
    waves, lengths = batch
    return [
        wespeaker_layers(model, wespeaker_fbank(waves[row : row + 1, :n]))
        for row, n in enumerate(lengths.tolist())
    ]


def test_front_end_matches_wespeakers(model_dir, batch) -> None:
    encoder = load_strata(model_dir)
    feats, frames = encoder.frontend(*batch)
    waves, lengths = batch
    for row, n in enumerate(lengths.tolist()):
        expected = wespeaker_fbank(waves[row : row + 1, :n])[0]
        assert int(frames[row]) == len(expected)
        # the same kaldi.fbank call on the same values: equal up to summation order at most
        torch.testing.assert_close(feats[row, :, : len(expected)].T, expected, **TOLERANCE)


def test_every_layer_matches_wespeakers_forward(model_dir, batch, reference) -> None:
    outputs = load_strata(model_dir)(*batch)
    assert list(outputs) == LAYERS
    for row, theirs in enumerate(reference):
        ours = strata_rows(outputs, row)
        for name, expected in theirs.items():
            # informative values: a constant layer would match anything of its shape
            assert expected.std() > 0.05 and (len(expected) == 1 or expected.std(0).mean() > 0.05)
            assert_layer_close(ours[name], expected, name)
    embeddings = torch.cat([layers["embedding"] for layers in reference])
    assert torch.cdist(embeddings, embeddings).fill_diagonal_(1.0).min() > 0.01


@pytest.mark.parametrize(
    ("parameter", "first_broken"),
    [
        ("layer1.bn.running_var", "tdnn"),
        ("layer3.se_res2block.1.convs.6.weight", "seres2net_2"),
        ("layer4.se_res2block.3.linear1.weight", "seres2net_3"),
        ("pool.linear1.weight", "asp"),
        ("linear.weight", "embedding"),
    ],
)
def test_one_tensor_scaled_by_1_percent_breaks_agreement_from_its_layer_on(
    model_dir, batch, reference, parameter, first_broken
) -> None:
    """The comparison can fail: layers before the scaled checkpoint tensor still agree, its own
    and every later one do not."""
    encoder = load_strata(model_dir)
    encoder.model.state_dict()[parameter].mul_(1.01)  # shares the module's storage
    outputs = encoder(*batch)
    broken = LAYERS.index(first_broken)
    worst = dict.fromkeys(LAYERS, 0.0)
    for row, theirs in enumerate(reference):
        ours = strata_rows(outputs, row)
        for name in LAYERS[:broken]:
            assert_layer_close(ours[name], theirs[name], name)
        for name in LAYERS[broken:]:
            worst[name] = max(worst[name], (ours[name] - theirs[name]).abs().max().item())
    assert all(worst[name] > TOLERANCE["atol"] for name in LAYERS[broken:]), worst
