"""speechbrain_ecapa family: tiny random ECAPA-TDNNs in SpeechBrain's own layouts, against
SpeechBrain's own loader (EncoderClassifier) and forward, and DINO state-dict checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from model_checks import (
    check_cuda_matches_cpu,
    check_outputs,
    check_padding_invariance,
    check_round_trip,
)
from speechbrain.dataio.encoder import CategoricalEncoder
from speechbrain.inference.classifiers import EncoderClassifier
from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN, Classifier
from speechbrain.processing.features import InputNormalization
from torchaudio.transforms import MelSpectrogram

from strata.models.ecapa import EcapaFamily

CONFIG = {
    "n_mels": 40,
    "channels": [32, 32, 32, 32, 96],
    "lin_neurons": 16,
    "attention_channels": 16,
    "se_channels": 16,
    "res2net_scale": 4,
}
LAYER_NAMES = ["tdnn", "seres2net_1", "seres2net_2", "seres2net_3", "mfa", "asp", "embedding"]


def cfg(seed: int = 0, **extra) -> dict:
    return {"family": "speechbrain_ecapa", "init": "random", "seed": seed, "config": CONFIG} | extra


def fbank_frames(samples: int) -> int:
    return samples // 160 + 1  # centred STFT, 10 ms hop


@pytest.fixture(scope="module")
def family() -> EcapaFamily:
    return EcapaFamily()


@pytest.fixture(scope="module")
def ckpt(family: EcapaFamily, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return family.materialise(cfg(), tmp_path_factory.mktemp("ecapa"))


def test_layer_specs(family: EcapaFamily) -> None:
    specs = family.layer_specs(cfg())
    assert [s.name for s in specs] == LAYER_NAMES
    assert [s.frame_rate for s in specs] == [100.0] * 5 + [None, None]
    two_blocks = family.layer_specs(cfg() | {"config": {"channels": [8] * 4}})
    assert [s.name for s in two_blocks][:4] == ["tdnn", "seres2net_1", "seres2net_2", "mfa"]


def test_outputs_and_exact_padded_batches(family: EcapaFamily, ckpt: Path, waves) -> None:
    encoder = family.load(cfg(), ckpt)
    out = check_outputs(encoder, family.layer_specs(cfg()), *waves, frames=fbank_frames)
    assert out["asp"].hidden.shape[2] == 2 * CONFIG["channels"][-1]
    assert out["embedding"].hidden.shape[2] == CONFIG["lin_neurons"]
    check_padding_invariance(encoder, *waves, atol=2e-5)


def test_random_init_is_speechbrains_layout_and_encode_batch_agrees(
    family: EcapaFamily, ckpt: Path, tmp_path: Path, waves
) -> None:
    """SpeechBrain's own loader reads the directory strata writes; its embeddings are ours."""
    assert {p.name for p in ckpt.iterdir()} >= {"hyperparams.yaml", "embedding_model.ckpt"}
    reference = EncoderClassifier.from_hparams(source=str(ckpt), savedir=str(tmp_path / "sb"))
    ours = family.load(cfg(), ckpt)(*waves)["embedding"].hidden[:, 0]
    for row, n in enumerate(waves[1].tolist()):
        expected = reference.encode_batch(waves[0][row : row + 1, :n])[0, 0]
        torch.testing.assert_close(ours[row], expected, atol=2e-5, rtol=1e-4)


# SpeechBrain's spkrec-ecapa-voxceleb hyperparams.yaml, shape for shape, at test size.
SPKREC_HPARAMS = """\
# Model: ECAPA big for Speaker verification
n_mels: 40
pretrained_path: {source}
out_n_neurons: 3
compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>
mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False
embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: [32, 32, 32, 32, 96]
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: 16
    se_channels: 16
    res2net_scale: 4
    lin_neurons: 16
classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: 16
    out_neurons: !ref <out_n_neurons>
mean_var_norm_emb: !new:speechbrain.processing.features.InputNormalization
    norm_type: global
    std_norm: False
modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    mean_var_norm_emb: !ref <mean_var_norm_emb>
    classifier: !ref <classifier>
label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        mean_var_norm_emb: !ref <mean_var_norm_emb>
        classifier: !ref <classifier>
        label_encoder: !ref <label_encoder>
    paths:
        embedding_model: !ref <pretrained_path>/embedding_model.ckpt
        mean_var_norm_emb: !ref <pretrained_path>/mean_var_norm_emb.ckpt
        classifier: !ref <pretrained_path>/classifier.ckpt
        label_encoder: !ref <pretrained_path>/label_encoder.txt
"""


def spkrec_dir(path: Path, *, extra: str = "") -> Path:
    """A spkrec-ecapa-voxceleb-layout directory with random weights, written by SpeechBrain."""
    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(3)
    arch = {k: v for k, v in CONFIG.items() if k != "n_mels"}
    torch.save(ECAPA_TDNN(40, **arch).state_dict(), path / "embedding_model.ckpt")
    torch.save(Classifier(input_size=16, out_neurons=3).state_dict(), path / "classifier.ckpt")
    InputNormalization(norm_type="global", std_norm=False)._save(path / "mean_var_norm_emb.ckpt")
    labels = CategoricalEncoder()
    labels.update_from_iterable(["id10001", "id10002", "id10003"])
    labels.save(path / "label_encoder.txt")
    (path / "hyperparams.yaml").write_text(SPKREC_HPARAMS.format(source=path) + extra)
    return path


def test_spkrec_layout_loads_and_matches_encoder_classifier(family, tmp_path, waves) -> None:
    source = spkrec_dir(tmp_path / "spkrec-ecapa-voxceleb")
    model = {"family": "speechbrain_ecapa", "init": "pretrained", "path": str(source)}
    assert family.materialise(model, tmp_path) == source
    assert [s.name for s in family.layer_specs(model)] == LAYER_NAMES
    assert family.weight_files(source) == [source / "embedding_model.ckpt"]
    reference = EncoderClassifier.from_hparams(source=str(source), savedir=str(tmp_path / "sb"))
    out = family.load(model, source)(*waves)
    for row, n in enumerate(waves[1].tolist()):
        expected = reference.encode_batch(waves[0][row : row + 1, :n])[0, 0]
        torch.testing.assert_close(out["embedding"].hidden[row, 0], expected, atol=2e-5, rtol=1e-4)


def test_hyperparams_are_read_as_data_never_run(family, tmp_path, waves) -> None:
    sentinel = tmp_path / "pwned"
    hostile = (
        f'side_effect: !apply:os.system ["touch {sentinel}"]\n'
        f"also: !new:pathlib.Path\n    - {sentinel}\n"
    )
    source = spkrec_dir(tmp_path / "dir", extra=hostile)
    model = {"family": "speechbrain_ecapa", "init": "pretrained", "path": str(source)}
    family.load(model, source)(*waves)
    assert not sentinel.exists()
    text = (source / "hyperparams.yaml").read_text()
    (source / "hyperparams.yaml").write_text(
        text.replace("!new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN", "!new:os.system")
    )
    with pytest.raises(ValueError, match="'embedding_model' must be !new:speechbrain"):
        family.layer_specs(model)


def test_matches_speechbrain_forward(family: EcapaFamily, ckpt: Path, waves) -> None:
    """Every layer equals ECAPA_TDNN.forward's blocks, run alone by SpeechBrain."""
    encoder = family.load(cfg(), ckpt)
    out = encoder(*waves)
    model = encoder.model
    for row, length in enumerate(waves[1].tolist()):
        feats, _ = encoder.frontend(waves[0][row : row + 1, :length], waves[1][row : row + 1])
        captured: dict[str, torch.Tensor] = {}
        modules = {"tdnn": model.blocks[0], "mfa": model.mfa, "asp": model.asp}
        modules |= {f"seres2net_{i}": model.blocks[i] for i in range(1, 4)}
        hooks = [
            module.register_forward_hook(
                lambda _m, _i, output, name=name, store=captured: store.__setitem__(
                    name, output.transpose(1, 2)
                )
            )
            for name, module in modules.items()
        ]
        with torch.inference_mode():
            captured["embedding"] = model(feats.transpose(1, 2))
        for hook in hooks:
            hook.remove()
        for name in LAYER_NAMES:
            n = int(out[name].lengths[row])
            assert captured[name].shape[1] == n, name
            torch.testing.assert_close(
                out[name].hidden[row, :n], captured[name][0], atol=2e-5, rtol=0
            )


# --- DINO state dicts (3D-Speaker RDINO: ECAPA blocks under a teacher/student wrapper) ---


def rdino_checkpoint(path: Path) -> tuple[Path, ECAPA_TDNN]:
    """3D-Speaker's layout: {'teacher': {'module.backbone.*', 'module.head.*'}, 'student': ...}."""
    torch.manual_seed(4)
    arch = {k: v for k, v in CONFIG.items() if k != "n_mels"}
    teacher, student = ECAPA_TDNN(40, **arch).eval(), ECAPA_TDNN(40, **arch)

    def wrap(model):
        state = {f"module.backbone.{k}": v for k, v in model.state_dict().items()}
        return state | {"module.head.mlp.0.weight": torch.zeros(8, 16)}

    torch.save({"teacher": wrap(teacher), "student": wrap(student), "epoch": 60}, path)
    return path, teacher


def rdino_cfg(path: Path, **extra) -> dict:
    model = {"family": "speechbrain_ecapa", "init": "pretrained", "path": str(path)}
    return model | {"frontend": "rdino_logmel", "config": CONFIG} | extra


def test_rdino_teacher_loads_with_its_own_front_end(family, tmp_path, waves) -> None:
    path, teacher = rdino_checkpoint(tmp_path / "checkpoint0060.pth")
    encoder = family.load(rdino_cfg(path), family.materialise(rdino_cfg(path), tmp_path))
    out = check_outputs(encoder, family.layer_specs(rdino_cfg(path)), *waves, frames=fbank_frames)
    mel = MelSpectrogram(16000, n_fft=512, win_length=400, hop_length=160, n_mels=40)
    norm = torch.nn.InstanceNorm1d(40)
    for row, n in enumerate(waves[1].tolist()):
        # 3D-Speaker's input, computed alone: mel power, log(x + 1e-6), instance norm.
        feats = norm((mel(waves[0][row : row + 1, :n]) + 1e-6).log())
        with torch.inference_mode():
            expected = teacher(feats.transpose(1, 2))[0, 0]
        torch.testing.assert_close(out["embedding"].hidden[row, 0], expected, atol=3e-5, rtol=1e-4)
    student = family.load(rdino_cfg(path, branch="student"), path)(*waves)["embedding"]
    assert not torch.allclose(student.hidden, out["embedding"].hidden)


def test_a_checkpoint_that_does_not_fit_lists_its_keys(family, tmp_path) -> None:
    path, _ = rdino_checkpoint(tmp_path / "rdino.pth")
    bigger = rdino_cfg(path, config={**CONFIG, "channels": [64, 64, 64, 64, 192]})
    with pytest.raises(ValueError, match=r"shape \(\d+\): \['asp\.conv\.conv\.bias"):
        family.load(bigger, path)
    torch.save({"encoder.fc.weight": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(
        ValueError, match=r"missing \(\d+\).*unexpected \(1\): \['encoder.fc.weight'\]"
    ):
        family.load(rdino_cfg(tmp_path / "other.pt"), tmp_path / "other.pt")


def test_round_trip_and_seed(family: EcapaFamily, ckpt: Path, tmp_path: Path, waves) -> None:
    files = check_round_trip(family, cfg, ckpt, tmp_path, waves)
    assert [f.name for f in files] == ["embedding_model.ckpt"]


def test_speechbrains_defaults_need_no_config(family, tmp_path) -> None:
    model = cfg() | {"config": {}}
    encoder = family.load(model, family.materialise(model, tmp_path))
    assert encoder.model.mfa.conv.conv.out_channels == 1536  # ECAPA_TDNN's default channels


def test_a_random_model_keeps_a_declared_front_end(family, tmp_path, waves) -> None:
    model = cfg(frontend="rdino_logmel")
    checkpoint = family.materialise(model, tmp_path)
    assert family.load(model, checkpoint).frontend.name == "rdino_logmel"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(family: EcapaFamily, ckpt: Path, waves) -> None:
    check_cuda_matches_cpu(lambda: family.load(cfg(), ckpt), waves)
