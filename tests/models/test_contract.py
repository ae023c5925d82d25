"""The encoder contract, checked by extraction: one encoder per mistake, each error naming the
model, the layer, what was declared and what came back — never the audio."""

import numpy as np
import pytest
import torch
from fake_corpora import noise_manifest

from strata.features import read_shard_metadata
from strata.features.extract import extract_features
from strata.models.base import ContractError, Encoder, LayerSpec, layer_outputs
from strata.models.contract import check_batch

HOP = 160  # 100 frames/s


class Toy(Encoder):
    """Two frame-level layers (framed samples, 8 wide; their cumulative mean over time, 4
    wide) and one utterance-level (mean of the second), made to commit ``fault``."""

    def __init__(self, fault: str | None = None, dims=(8, 4, 4)):
        self.fault = fault
        self.layers = [
            LayerSpec("conv1", 100.0, dims[0]),
            LayerSpec("conv2", 100.0, dims[1]),
            LayerSpec("pooled", None, dims[2]),
        ]

    def __call__(self, waves, lengths):
        frames = lengths // HOP
        steps = waves.shape[1] // HOP
        x = waves[:, : steps * HOP].reshape(len(waves), steps, HOP)
        conv1 = x[..., :: HOP // 8] if self.fault != "width" else x[..., :: HOP // 16]
        conv2 = conv1[..., :4].cumsum(1) / torch.arange(1, steps + 1)[None, :, None]
        if self.fault == "padding":  # normalised over the padded length: padding leaks in
            conv2 = conv2 - conv2.mean(1, keepdim=True)
        if self.fault == "nan":
            conv2 = conv2 / 0.0
        valid = (torch.arange(steps)[None, :] < frames[:, None])[..., None]
        pooled = (conv2 * valid).sum(1, keepdim=True) / frames[:, None, None]
        if self.fault == "time":
            pooled = pooled.expand(-1, 3, -1)
        if self.fault == "rate":  # 100 frames/s declared, 50 returned
            conv1, conv2, frames = conv1[:, ::2], conv2[:, ::2], (frames + 1) // 2
        hidden = [conv1.clone(), conv2.clone(), pooled.clone()]
        if self.fault == "one_fewer":
            return layer_outputs(self.layers, hidden[:2], frames)
        out = layer_outputs(self.layers, hidden, frames)
        if self.fault == "missing":
            del out["pooled"]
        if self.fault == "order":
            out = {k: out[k] for k in ("conv2", "conv1", "pooled")}
        if self.fault == "tuple":
            return tuple(out.values())
        if self.fault == "bare":
            out["conv1"] = conv1
        return out

    def to(self, device):
        return self


@pytest.fixture
def corpus(tmp_path):
    return tmp_path, noise_manifest(tmp_path, [0.5, 1.23, 0.31, 0.8, 1.0, 0.64])


CFG = {
    "level": "frame",
    "pooling": "mean",
    "chunk_size": 2,
    "device": "cpu",
    "dtype": "float32",
    "precision": "float32",
    "batch_seconds": 3.0,
}


def extract(corpus, encoder, tmp_path):
    root, manifest = corpus
    out, frames = tmp_path / "features", tmp_path / "frames"
    rows = extract_features(encoder, manifest, root, out, CFG, {"model": "mine"}, frames)
    return rows, out, frames


def test_an_encoder_keeping_the_contract_extracts(corpus, tmp_path):
    rows, out, _ = extract(corpus, Toy(), tmp_path)
    assert rows["conv1.frames.parquet"] > 0 and rows["pooled.parquet"] == 6


@pytest.mark.parametrize(
    "fault, expected",
    [
        ("one_fewer", "2 hidden tensors for the 3 declared layers ['conv1', 'conv2', 'pooled']"),
        ("missing", "returned ['conv1', 'conv2'] (missing ['pooled'])"),
        ("order", "returned ['conv2', 'conv1', 'pooled'] (in another order)"),
        ("tuple", "returned a tuple, not a dict"),
        ("bare", "layer 'conv1': expected a LayerOutput"),
        ("width", "layer 'conv1': declared width 8, returned 16"),
        ("rate", "layer 'conv1': declared 100 frames/s"),
        ("time", "layer 'pooled' is declared utterance-level (frame_rate None) but has 3 time"),
        ("padding", "layer 'conv2': utterance u2's valid frames change by up to"),
        ("nan", "layer 'conv2': NaN or infinite values for utterances"),
    ],
)
def test_each_broken_promise_is_named_with_model_and_layer(corpus, tmp_path, fault, expected):
    with pytest.raises(ValueError) as caught:
        extract(corpus, Toy(fault), tmp_path)
    message = str(caught.value)
    assert message.startswith("model 'mine'") and expected in message, message
    if fault != "nan":  # the audio is not at fault: no file blamed
        assert isinstance(caught.value, ContractError) and ".flac" not in message, message
        assert "docs/extending.md" in message
    assert not (tmp_path / "features").exists() and not (tmp_path / "frames").exists()


def test_padding_leak_says_by_how_much(corpus, tmp_path):
    with pytest.raises(ContractError, match=r"valid frames change by up to [\d.e-]+ \(largest"):
        extract(corpus, Toy("padding"), tmp_path)


def test_undeclared_widths_are_filled_from_the_first_batch(corpus, tmp_path):
    rows, out, frames = extract(corpus, Toy(dims=(None, None, None)), tmp_path)
    assert read_shard_metadata(out / "conv1.parquet")["dim"] == 8
    assert read_shard_metadata(frames / "conv2.frames.parquet")["dim"] == 4
    assert read_shard_metadata(out / "pooled.parquet")["dim"] == 4


def test_the_check_batch_spreads_lengths_within_the_padded_budget():
    lengths = np.array([50, 10, 40, 20, 30, 100, 5])
    assert check_batch(lengths, 4 * 50) == [6, 3, 4, 0]  # 5, 20, 30, 50; 100 does not fit
    assert check_batch(lengths, 10) == [6]  # none fits four times: the shortest alone
    assert check_batch(np.array([7]), 100) == [0]


@pytest.mark.parametrize(
    "specs, expected",
    [
        ([LayerSpec("conv-1", 100.0)], "layer name 'conv-1' is not letters, digits and _"),
        ([LayerSpec("weighted", 100.0)], "layer name 'weighted' is reserved"),
        ([LayerSpec("a", 100.0), LayerSpec("a", None)], "layer name 'a' appears twice"),
        ([LayerSpec("a", 0.0)], "layer 'a': frame_rate 0.0 is not a positive number"),
        ([LayerSpec("a", 50.0, 0)], "layer 'a': dim 0 is not a positive integer"),
        ([], "no layers"),
    ],
)
def test_layer_specs_that_cannot_name_files_stop_the_parse_naming_the_model(
    specs, expected, monkeypatch
):
    from defaults import default_config

    from strata.models.registry import ModelFamily
    from strata.plan.study import Study

    class Bad(ModelFamily):
        name = "bad"
        layer_specs = staticmethod(lambda cfg: specs)
        materialise = weight_files = load = None

    monkeypatch.setattr("strata.models.registry.get_family", lambda name: Bad())
    config = default_config(seeds=False)
    config["models"] = {"mine": {"family": "bad", "init": "random", "seed": 0}}
    with pytest.raises(ContractError, match=f"model 'mine': family bad's layer_specs: {expected}"):
        Study(config).specs  # noqa: B018 - reading it builds the layers
