"""wespeaker_ecapa: checkpoints with wespeaker's published key names (DINO and model-dir
layouts), Kaldi fbank front end against torchaudio, exact padded batches."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchaudio.compliance.kaldi as kaldi
import yaml
from model_checks import check_cuda_matches_cpu, check_outputs, check_padding_invariance

from strata.config import ConfigError
from strata.models.wespeaker import WespeakerFamily


def published_keys(channels: int, glob: bool, emb_bn: bool) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of wespeaker's ECAPA_TDNN[_GLOB]_c{channels} (feat_dim 80,
    embed_dim 192), as its checkpoints hold them."""
    c, width, keys = channels, channels // 8, {}

    def bn(prefix: str, n: int) -> None:
        for name in ("weight", "bias", "running_mean", "running_var"):
            keys[f"{prefix}.{name}"] = (n,)
        keys[f"{prefix}.num_batches_tracked"] = ()

    keys |= {"layer1.conv.weight": (c, 80, 5), "layer1.conv.bias": (c,)}
    bn("layer1.bn", c)
    for layer in ("layer2", "layer3", "layer4"):
        block = f"{layer}.se_res2block"
        for i in (0, 2):
            keys |= {f"{block}.{i}.conv.weight": (c, c, 1), f"{block}.{i}.conv.bias": (c,)}
            bn(f"{block}.{i}.bn", c)
        for j in range(7):
            keys[f"{block}.1.convs.{j}.weight"] = (width, width, 3)
            keys[f"{block}.1.convs.{j}.bias"] = (width,)
            bn(f"{block}.1.bns.{j}", width)
        keys |= {f"{block}.3.linear1.weight": (128, c), f"{block}.3.linear1.bias": (128,)}
        keys |= {f"{block}.3.linear2.weight": (c, 128), f"{block}.3.linear2.bias": (c,)}
    keys |= {"conv.weight": (1536, 3 * c, 1), "conv.bias": (1536,)}
    keys |= {
        "pool.linear1.weight": (128, 1536 * (3 if glob else 1), 1),
        "pool.linear1.bias": (128,),
    }
    keys |= {"pool.linear2.weight": (1536, 128, 1), "pool.linear2.bias": (1536,)}
    bn("bn", 3072)
    keys |= {"linear.weight": (192, 3072), "linear.bias": (192,)}
    if emb_bn:
        bn("bn2", 192)
    return keys


def random_state(keys: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in keys.items():
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(0)
        elif name.endswith("running_var"):
            state[name] = 0.5 + torch.rand(shape, generator=gen)
        else:
            state[name] = 0.1 * torch.randn(shape, generator=gen)
    return state


@pytest.fixture(scope="module")
def family() -> WespeakerFamily:
    return WespeakerFamily()


@pytest.fixture(scope="module")
def dino_checkpoint(tmp_path_factory) -> tuple[Path, dict]:
    """wespeaker's DINO training checkpoint: {'model': {'t_model.*', 's_model.*', heads}}."""
    teacher = random_state(published_keys(512, glob=True, emb_bn=True))
    student = random_state(published_keys(512, glob=True, emb_bn=True), seed=1)
    model = {f"t_model.{k}": v for k, v in teacher.items()}
    model |= {f"s_model.{k}": v for k, v in student.items()}
    model |= {"t_model.projection_head.last_layer.weight_g": torch.ones(4, 1)}
    path = tmp_path_factory.mktemp("dino") / "model_150.pt"
    torch.save({"model": model, "epoch": 150}, path)
    return path, teacher


def dino_cfg(path: Path, **extra) -> dict:
    config = {"channels": 512, "global_context": True, "emb_bn": True}
    model = {"family": "wespeaker_ecapa", "init": "pretrained", "path": str(path)}
    return model | {"config": config} | extra


def kaldi_frames(samples: int) -> int:
    return (samples - 400) // 160 + 1  # 25 ms window, 10 ms hop, no edge padding


def test_dino_teacher_loads_and_batches_exactly(family, dino_checkpoint, waves) -> None:
    path, teacher = dino_checkpoint
    cfg = dino_cfg(path)
    encoder = family.load(cfg, family.materialise(cfg, path.parent))
    for name, value in teacher.items():
        assert torch.equal(encoder.model.state_dict()[name], value), name
    out = check_outputs(encoder, family.layer_specs(cfg), *waves, frames=kaldi_frames)
    assert out["asp"].hidden.shape[2] == 3072 and out["embedding"].hidden.shape[2] == 192
    check_padding_invariance(encoder, *waves, atol=5e-5)
    student = family.load(dino_cfg(path, branch="student"), path)(*waves)["embedding"]
    assert not torch.allclose(student.hidden, out["embedding"].hidden)


def test_front_end_is_kaldi_fbank_with_cmn(family, dino_checkpoint, waves) -> None:
    encoder = family.load(dino_cfg(dino_checkpoint[0]), dino_checkpoint[0])
    feats, frames = encoder.frontend(*waves)
    for row, n in enumerate(waves[1].tolist()):
        expected = kaldi.fbank(
            waves[0][row : row + 1, :n] * 32768, num_mel_bins=80, dither=0.0, window_type="hamming"
        )
        expected = expected - expected.mean(0)
        assert int(frames[row]) == len(expected) == kaldi_frames(n)
        torch.testing.assert_close(feats[row, :, : len(expected)].T, expected)


@pytest.mark.parametrize(("channels", "glob", "emb_bn"), [(1024, False, False), (512, True, False)])
def test_model_dir_layout_reads_its_config(family, tmp_path, waves, channels, glob, emb_bn):
    """wespeaker's released model dir: avg_model.pt (heads included) + config.yaml."""
    state = random_state(published_keys(channels, glob, emb_bn))
    state["projection.weight"] = torch.zeros(10, 192)  # the training classifier: dropped
    torch.save(state, tmp_path / "avg_model.pt")
    variant = f"ECAPA_TDNN{'_GLOB' if glob else ''}_c{channels}"
    conf = {"model": variant, "model_args": {"feat_dim": 80, "embed_dim": 192, "emb_bn": emb_bn}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(conf))
    cfg = {"family": "wespeaker_ecapa", "init": "pretrained", "path": str(tmp_path)}
    encoder = family.load(cfg, family.materialise(cfg, tmp_path))
    assert encoder.arch["channels"] == channels and encoder.arch["global_context"] == glob
    check_outputs(encoder, family.layer_specs(cfg), *waves, frames=kaldi_frames)
    # Beside the directory, config: would be ignored: it is refused, naming its source.
    with pytest.raises(ConfigError, match=rf"'config': comes from {tmp_path}/config.yaml"):
        family.check_config({**cfg, "config": {"channels": 512}})
    # So is branch: on a checkpoint that holds one network (it would load the only weights).
    with pytest.raises(ValueError, match=r"avg_model.pt: branch: student is for DINO training"):
        family.load({**cfg, "branch": "student"}, tmp_path)


def test_wrong_architecture_lists_the_keys(family, dino_checkpoint) -> None:
    path, _ = dino_checkpoint
    with pytest.raises(ValueError, match=r"unexpected \(\d+\): \['bn2\.bias'.*shape \(1\)"):
        family.load(dino_cfg(path, config={"channels": 512, "global_context": False}), path)


def test_random_init_writes_the_model_dir_layout(family, tmp_path, waves) -> None:
    cfg = {"family": "wespeaker_ecapa", "init": "random", "seed": 0, "config": {"channels": 512}}
    checkpoint = family.materialise(cfg, tmp_path)
    assert sorted(p.name for p in checkpoint.iterdir()) == ["avg_model.pt", "config.yaml"]
    state = torch.load(checkpoint / "avg_model.pt", weights_only=True)
    assert {k: tuple(v.shape) for k, v in state.items()} == published_keys(512, True, False)
    check_outputs(family.load(cfg, checkpoint), family.layer_specs(cfg), *waves)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(family, dino_checkpoint, waves) -> None:
    path, _ = dino_checkpoint
    check_cuda_matches_cpu(lambda: family.load(dino_cfg(path), path), waves)
