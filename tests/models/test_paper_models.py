"""The paper's models named by hub id or path dry-run with the right layers for each.

Checkpoints stand in as what layer_specs reads at parse time, in the real layouts: config.json
in the Hugging Face cache (models--org--name/refs/main → snapshots/<commit>/), SpeechBrain's
hyperparams.yaml, a 3D-Speaker state-dict file, a wespeaker model directory's config.yaml.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
HF = {  # hub id → (model_type, transformer layers), as their config.json says
    "microsoft/wavlm-base": ("wavlm", 12),
    "microsoft/wavlm-base-plus": ("wavlm", 12),
    "microsoft/wavlm-large": ("wavlm", 24),
    "facebook/hubert-base-ls960": ("hubert", 12),
    "facebook/hubert-large-ll60k": ("hubert", 24),
    "openai/whisper-base": ("whisper", 6),
}
ECAPA_LAYERS = ["tdnn", "seres2net_1", "seres2net_2", "seres2net_3", "mfa", "asp", "embedding"]
SPKREC = """\
n_mels: 80
compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>
mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False
embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: [1024, 1024, 1024, 1024, 3072]
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: 128
    lin_neurons: 192
"""


def hub_cache(root: Path) -> Path:
    for hub_id, (model_type, layers) in HF.items():
        repo = root / f"models--{hub_id.replace('/', '--')}"
        snapshot = repo / "snapshots" / ("a" * 40)
        snapshot.mkdir(parents=True)
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text("a" * 40)
        key = "encoder_layers" if model_type == "whisper" else "num_hidden_layers"
        width = 1024 if layers == 24 else 768  # as each config.json says
        config = {"model_type": model_type, key: layers}
        if model_type != "whisper":
            config["hidden_size"] = width
        (snapshot / "config.json").write_text(json.dumps(config))
    return root


def test_the_paper_grid_dry_runs_with_each_models_layers(tmp_path):
    cache = hub_cache(tmp_path / "hub")
    spkrec = tmp_path / "spkrec-ecapa-voxceleb"
    spkrec.mkdir()
    (spkrec / "hyperparams.yaml").write_text(SPKREC)
    (tmp_path / "rdino.pth").write_bytes(b"")  # only its path is read at parse time
    wespeaker = tmp_path / "voxceleb_ECAPA512_DINO"
    wespeaker.mkdir()
    (wespeaker / "config.yaml").write_text("model: ECAPA_TDNN_GLOB_c512\nmodel_args: {}\n")
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    models = {
        re.sub(r"\W", "_", hub_id.split("/")[1]): {
            "family": "hf_transformers",
            "init": "pretrained",
            "path": hub_id,
        }
        for hub_id in HF
    }
    models["ecapa_supervised"] = {"family": "speechbrain_ecapa", "init": "pretrained"}
    models["ecapa_supervised"]["path"] = str(spkrec)
    models["ecapa_rdino"] = {"family": "speechbrain_ecapa", "init": "pretrained"}
    models["ecapa_rdino"] |= {"path": str(tmp_path / "rdino.pth"), "frontend": "rdino_logmel"}
    models["ecapa_rdino"]["config"] = {"channels": [1024] * 4 + [3072], "lin_neurons": 512}
    models["ecapa_wespeaker_dino"] = {"family": "wespeaker_ecapa", "init": "pretrained"}
    models["ecapa_wespeaker_dino"]["path"] = str(wespeaker)
    config["models"] = models
    config["similarity"]["pairs"] = "all"
    config["tasks"] = {"speaker_id": config["tasks"]["speaker_id"]}
    config["probe"]["jobs"] = "layer"  # one job per layer: its wildcards name it
    (tmp_path / "paper.yaml").write_text(yaml.safe_dump(config))
    cmd = [
        str(Path(sys.executable).parent / "snakemake"),
        *("-s", str(ROOT / "Snakefile"), "-n", "--forceall", "--configfile", "paper.yaml"),
    ]
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    layers: dict[str, set[str]] = {}
    for model, layer in re.findall(r"wildcards: model=(\w+), .*layer=(\w+)", proc.stdout):
        layers.setdefault(model, set()).add(layer)
    for hub_id, (_, n) in HF.items():
        name = re.sub(r"\W", "_", hub_id.split("/")[1])
        assert layers[name] == {f"layer_{i:02d}" for i in range(n + 1)}, name
    for name in ("ecapa_supervised", "ecapa_rdino", "ecapa_wespeaker_dino"):
        assert layers[name] == set(ECAPA_LAYERS), name
