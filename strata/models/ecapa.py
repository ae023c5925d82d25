"""SpeechBrain ECAPA-TDNN speaker encoders, supervised or self-supervised (DINO), layer by layer.

Layers follow the paper's blocks: ``tdnn`` (blocks[0]), ``seres2net_1..N`` (blocks[1..N]),
``mfa`` (multi-layer feature aggregation), all at the front end's frame rate (100 Hz); then two
utterance-level layers: ``asp``, the attentive statistics pooling output (weighted mean and std)
*before* ``asp_bn`` (in eval mode a fixed per-channel affine map whose effect ``embedding``
includes), and ``embedding``, the final ``fc`` output that ``EncoderClassifier.encode_batch``
returns.

Checkpoints, all through one loader:

- a SpeechBrain pretrained directory (``speechbrain/spkrec-ecapa-voxceleb``'s layout:
  ``hyperparams.yaml``, ``embedding_model.ckpt``, plus heads strata ignores). The architecture and
  the front end come from ``hyperparams.yaml``, read as data (:mod:`strata.models.hparams`).
  Random-init models are written in this layout too.
- a state-dict file of the same network (``blocks.*``, ``mfa``, ``asp``, ``asp_bn``, ``fc``),
  e.g. 3D-Speaker's RDINO: DINO wrappers and heads are dropped (:mod:`strata.models.checkpoints`),
  and the config declares the architecture (``config``) and the front end (``frontend``).

Padded batches are exact (see :class:`EcapaEncoder`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from strata.io import atomic_dir
from strata.models.base import Encoder, LayerSpec, ModelFamily, batch_for, layer_outputs
from strata.models.checkpoints import backbone_state, load_exact, read_state
from strata.models.frontends import FBANK_ARGS, FRONTENDS, NORM_ARGS
from strata.models.hparams import Tagged, constructor_args, load_hparams
from strata.models.ragged import pad_tails, relative_lengths
from strata.schema import ConfigError

if TYPE_CHECKING:
    import torch

WEIGHTS = "embedding_model.ckpt"
HYPERPARAMS = "hyperparams.yaml"
ECAPA_CLASS = "speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN"
FBANK_CLASS = "speechbrain.lobes.features.Fbank"
NORM_CLASS = "speechbrain.processing.features.InputNormalization"
# ECAPA_TDNN's defaults, needed without torch to count blocks and check a config (a test holds
# them equal to speechbrain's).
DEFAULT_CHANNELS = [512, 512, 512, 512, 1536]
DEFAULT_LISTS = {
    "channels": DEFAULT_CHANNELS,
    "kernel_sizes": [5, 3, 3, 3, 1],
    "dilations": [1, 2, 3, 4, 1],
    "groups": [1, 1, 1, 1, 1],
}
DEFAULT_RES2NET_SCALE = 8
DEFAULT_N_MELS = 80
# ECAPA_TDNN keyword arguments a config may set (activation is a class, device unused).
ECAPA_KWARGS = frozenset(
    {
        "lin_neurons",
        "channels",
        "kernel_sizes",
        "dilations",
        "attention_channels",
        "res2net_scale",
        "se_channels",
        "global_context",
        "groups",
        "dropout",
    }
)


@dataclass(frozen=True)
class Architecture:
    """ECAPA_TDNN arguments (``n_mels`` as input size) and the front end that feeds it."""

    params: dict[str, Any]
    frontend: str
    frontend_args: dict[str, Any] = field(default_factory=dict)

    @property
    def n_mels(self) -> int:
        return self.params.get("n_mels", DEFAULT_N_MELS)

    def specs(self) -> list[LayerSpec]:
        rate = 1000.0 / self.frontend_args.get("fbank_args", {}).get("hop_length", 10)
        channels = self.params.get("channels", DEFAULT_CHANNELS)
        n_blocks = len(channels) - 2
        frame = ["tdnn", *(f"seres2net_{i}" for i in range(1, n_blocks + 1)), "mfa"]
        pooled = [
            LayerSpec("asp", None, 2 * channels[-1]),  # weighted mean and std
            LayerSpec("embedding", None, self.params.get("lin_neurons", 192)),
        ]
        return [LayerSpec(n, rate, c) for n, c in zip(frame, channels, strict=True)] + pooled

    def build_frontend(self) -> Any:
        return FRONTENDS[self.frontend](n_mels=self.n_mels, **self.frontend_args)


def read_architecture(directory: Path) -> Architecture:
    """The architecture a SpeechBrain pretrained directory's hyperparams.yaml declares."""
    path = Path(directory) / HYPERPARAMS
    if not path.is_file():
        raise FileNotFoundError(f"speechbrain_ecapa: no {HYPERPARAMS} in {directory}")
    hp = load_hparams(path)
    activation = hp.get("embedding_model")
    if isinstance(activation, Tagged) and isinstance(activation.value, dict):
        act = activation.value.pop("activation", None)
        if act is not None and act != Tagged("!name:torch.nn.ReLU", ""):
            raise ValueError(f"{path}: embedding_model.activation {act} (only ReLU is supported)")
    allowed = ECAPA_KWARGS | {"input_size"}
    model = constructor_args(hp, "embedding_model", ECAPA_CLASS, allowed, path)
    fbank = constructor_args(hp, "compute_features", FBANK_CLASS, FBANK_ARGS, path)
    norm = constructor_args(hp, "mean_var_norm", NORM_CLASS, NORM_ARGS, path)
    n_mels = fbank.get("n_mels", 40)  # Fbank's own default
    if model.pop("input_size", n_mels) != n_mels:
        raise ValueError(f"{path}: embedding_model.input_size differs from Fbank's n_mels")
    fbank.pop("n_mels", None)
    # A strata-written directory may name another front end (SpeechBrain ignores the key).
    frontend = hp.get("strata_frontend", "speechbrain_fbank")
    if frontend not in FRONTENDS:
        raise ValueError(f"{path}: unknown strata_frontend {frontend!r}; known {sorted(FRONTENDS)}")
    args = {"fbank_args": fbank, "norm_args": norm} if frontend == "speechbrain_fbank" else {}
    return Architecture({"n_mels": n_mels, **model}, frontend, args)


def architecture(cfg: dict[str, Any], checkpoint: Path | None = None) -> Architecture:
    """A config's architecture (cheap, no torch): from ``hyperparams.yaml`` for directories
    (``checkpoint`` once materialised, else the pretrained ``path``), else from the config."""
    directory = checkpoint if checkpoint is not None else cfg.get("path")
    if directory is not None and Path(directory).is_dir():
        return read_architecture(Path(directory))
    # A state-dict file's architecture is declared, so a run can be planned before it is
    # fetched (materialise names the missing file when a job needs it).
    if cfg["init"] == "pretrained" and not Path(cfg["path"]).is_file() and "config" not in cfg:
        raise FileNotFoundError(
            f"speechbrain_ecapa: pretrained 'path' {cfg['path']} is neither a SpeechBrain "
            "directory nor a state-dict file"
        )
    params = {"n_mels": DEFAULT_N_MELS, **cfg.get("config", {})}
    return Architecture(params, cfg.get("frontend", "speechbrain_fbank"))


def check_architecture(params: dict[str, Any]) -> None:
    """Raise ConfigError (key ``config.<arg>``) for arguments ECAPA_TDNN cannot build or run."""
    lists = {k: params.get(k, default) for k, default in DEFAULT_LISTS.items()}
    for key, value in lists.items():
        if len(value) != len(lists["channels"]):
            raise ConfigError(f"config.{key}", f"needs one entry per channels entry: {lists}")
    channels, groups = lists["channels"], lists["groups"]
    blocks = channels[1:-1]
    if sum(blocks) != channels[-2] * len(blocks):
        raise ConfigError(
            "config.channels",
            f"the SE-Res2Net blocks' channels {blocks} must sum to channels[-2] x {len(blocks)}, "
            "the MFA's input width (equal channels do)",
        )
    scale = params.get("res2net_scale", DEFAULT_RES2NET_SCALE)
    if any(c % scale for c in blocks):
        raise ConfigError("config.res2net_scale", f"{scale} does not divide {blocks}")
    n_mels = params.get("n_mels", DEFAULT_N_MELS)
    ins = [n_mels, *channels[:-2], sum(blocks)]
    for i, (c_in, c_out, g) in enumerate(zip(ins, channels, groups, strict=True)):
        if c_in % g or c_out % g:
            raise ConfigError("config.groups", f"groups[{i}] = {g} must divide {c_in} and {c_out}")


def _build(params: dict[str, Any]) -> Any:
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN

    kwargs = {k: v for k, v in params.items() if k != "n_mels"}
    return ECAPA_TDNN(params.get("n_mels", DEFAULT_N_MELS), **kwargs)


def hyperparams_text(arch: Architecture, header: str, out_neurons: int = 2) -> str:
    """A SpeechBrain ``hyperparams.yaml`` for a strata-made model (EncoderClassifier loads it);
    ``header`` says what made it."""
    model = {k: v for k, v in arch.params.items() if k != "n_mels"}
    args = yaml.safe_dump(model, default_flow_style=None, sort_keys=False) if model else ""
    lin = model.get("lin_neurons", 192)
    return "\n".join(
        [
            f"# strata: {header}, SpeechBrain's pretrained layout",
            f"n_mels: {arch.n_mels}",
            *(
                [f"strata_frontend: {arch.frontend}"]
                if arch.frontend != "speechbrain_fbank"
                else []
            ),
            "compute_features: !new:speechbrain.lobes.features.Fbank",
            "    n_mels: !ref <n_mels>",
            "mean_var_norm: !new:speechbrain.processing.features.InputNormalization",
            "    norm_type: sentence",
            "    std_norm: False",
            f"embedding_model: !new:{ECAPA_CLASS}",
            "    input_size: !ref <n_mels>",
            *(f"    {line}" for line in args.strip().splitlines()),
            "classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier",
            f"    input_size: {lin}",
            f"    out_neurons: {out_neurons}",
            "modules:",
            "    compute_features: !ref <compute_features>",
            "    mean_var_norm: !ref <mean_var_norm>",
            "    embedding_model: !ref <embedding_model>",
            "    classifier: !ref <classifier>",
            "pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer",
            "    loadables:",
            "        embedding_model: !ref <embedding_model>",
            "        classifier: !ref <classifier>",
            "",
        ]
    )


def build_random(cfg: dict[str, Any], out_neurons: int = 2) -> tuple[Any, Any]:
    """The ECAPA_TDNN a config describes and a cosine classifier over ``out_neurons`` classes,
    drawn under the config's seed."""
    import torch
    from speechbrain.lobes.models.ECAPA_TDNN import Classifier

    arch = architecture(cfg)
    torch.manual_seed(int(cfg["seed"]))
    model = _build(arch.params)
    lin = arch.params.get("lin_neurons", 192)
    return model, Classifier(input_size=lin, out_neurons=out_neurons)


def save_checkpoint(model: Any, classifier: Any, arch: Architecture, header: str, out_dir: Path):
    """Write ``out_dir/checkpoint`` atomically in SpeechBrain's pretrained layout."""
    import torch

    final = Path(out_dir) / "checkpoint"
    with atomic_dir(final) as tmp:
        # torch.save like SpeechBrain's own checkpoints (byte-identical for equal weights).
        torch.save(model.state_dict(), tmp / WEIGHTS)
        torch.save(classifier.state_dict(), tmp / "classifier.ckpt")
        out = classifier.weight.shape[0]
        (tmp / HYPERPARAMS).write_text(hyperparams_text(arch, header, out))
    return final


class EcapaFamily(ModelFamily):
    name = "speechbrain_ecapa"
    config_schema = {"$ref": "#/definitions/ecapa_config"}

    def layer_specs(self, cfg: dict[str, Any]) -> list[LayerSpec]:
        return architecture(cfg).specs()

    def check_config(self, cfg: dict[str, Any]) -> None:
        if "config" in cfg:
            check_architecture(cfg["config"])
        if cfg["init"] == "pretrained" and Path(cfg["path"]).is_dir():
            for key in ("config", "frontend"):
                if key in cfg:
                    raise ConfigError(key, f"comes from {cfg['path']}/{HYPERPARAMS}, not config")
        elif cfg["init"] == "pretrained" and "frontend" not in cfg:
            raise ConfigError("frontend", "a state-dict checkpoint needs its front end declared")

    def materialise(self, cfg: dict[str, Any], out_dir: Path) -> Path:
        if cfg["init"] == "pretrained":
            path = Path(cfg["path"])
            self.weight_files(path)  # fails early, naming what is missing
            return path
        model, classifier = build_random(cfg)
        header = f"random-init ECAPA-TDNN (seed {cfg['seed']})"
        return save_checkpoint(model, classifier, architecture(cfg), header, Path(out_dir))

    def weight_files(self, checkpoint: Path) -> list[Path]:
        path = Path(checkpoint)
        weights = path / WEIGHTS if path.is_dir() else path
        if not weights.is_file():
            raise FileNotFoundError(f"speechbrain_ecapa: missing {weights}")
        return [weights]

    def load(self, cfg: dict[str, Any], checkpoint: Path) -> Encoder:
        arch = architecture(cfg, Path(checkpoint))
        model = _build(arch.params)
        weights = self.weight_files(checkpoint)[0]
        state = backbone_state(read_state(weights), cfg.get("branch"), weights)
        hint = "" if Path(checkpoint).is_dir() else " (declare the architecture in config:)"
        load_exact(model, state, weights, hint)
        return EcapaEncoder(model.eval(), arch.build_frontend(), arch.specs())


class EcapaEncoder(Encoder):
    """ECAPA-TDNN returning every block, exact on padded batches.

    SpeechBrain's convolutions pad "same" by reflection, so in a padded batch a shorter row's
    last frames would see the batch's padding. A pre-hook on every such convolution writes into
    each row's padding the reflection of that row's own end (:func:`.ragged.pad_tails`), and
    the squeeze-excitation and pooling layers get the valid lengths, so every valid frame is
    what the utterance gives alone.
    """

    def __init__(self, model: Any, frontend: Any, layers: list[LayerSpec]) -> None:
        self.model, self.frontend, self.layers = model, frontend, layers
        self._frames: torch.Tensor | None = None
        self.max_pad = 0
        for module in model.modules():
            pad = _same_padding(module)
            if pad:
                self.max_pad = max(self.max_pad, pad)
                module.register_forward_pre_hook(self._pad_rows(pad, module.padding_mode))

    def _pad_rows(self, pad: int, mode: str):
        def hook(_module: Any, args: tuple) -> tuple:
            if self._frames is None:  # the model called directly: SpeechBrain's own padding
                return args
            # In place: past each row's length lies padding only, for every consumer.
            return (pad_tails(args[0], self._frames, pad, mode, inplace=True), *args[1:])

        return hook

    def to(self, device: str | torch.device) -> EcapaEncoder:
        self.model.to(device)
        self.frontend.to(device)
        return self

    def __call__(self, waves: torch.Tensor, lengths: torch.Tensor):
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            waves, lengths = batch_for(self.model, waves, lengths)
            feats, frames = self.frontend(waves, lengths)
            n_frames = feats.shape[-1]
            x = F.pad(feats, (0, self.max_pad))  # room for each row's own padding
            relative = relative_lengths(frames, x.shape[-1])
            self._frames = frames
            try:
                hidden = self._walk(x, relative)
            finally:
                self._frames = None
            hidden = [h[..., :n_frames].transpose(1, 2) for h in hidden]
            return layer_outputs(self.layers, hidden, frames)

    def _walk(self, x: torch.Tensor, relative: torch.Tensor) -> list[torch.Tensor]:
        """Every layer (B, D, T), walking the blocks as ``ECAPA_TDNN.forward`` does."""
        import torch
        from speechbrain.lobes.models.ECAPA_TDNN import TDNNBlock

        model = self.model
        blocks = []
        for block in model.blocks:
            x = block(x) if isinstance(block, TDNNBlock) else block(x, lengths=relative)
            blocks.append(x)
        mfa = model.mfa(torch.cat(blocks[1:], dim=1))
        asp = model.asp(mfa, lengths=relative)
        embedding = model.fc(model.asp_bn(asp))
        return [*blocks, mfa, asp, embedding]


def _same_padding(module: Any) -> int:
    """Per-side padding of a SpeechBrain "same" Conv1d (0 for anything else)."""
    from speechbrain.nnet.CNN import Conv1d

    if not isinstance(module, Conv1d) or module.padding != "same" or module.stride != 1:
        return 0
    return module.dilation * (module.kernel_size - 1) // 2
