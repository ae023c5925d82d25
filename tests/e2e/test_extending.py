"""docs/extending.md's worked examples through the whole DAG: an encoder family, a similarity
measure and a dataset kind from a package outside strata (tests/extension, on the path of the
DAG's processes as an installed package would be), named by import path in the config; nothing
in strata names them."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, Run, tiny_config
from sklearn.linear_model import LinearRegression

from strata.features.shards import read_layers, read_shard_metadata, read_utterance_vectors
from strata.similarity.matrix import read_similarity

pytestmark = pytest.mark.e2e

FAMILY = "strata_toys.encoders:ProjectionFamily"
MEASURE = "strata_toys.measures:LinearR2"
KIND = "strata_toys.corpora:TONES"
LAYERS = {"toy": ["frames", "mixed", "spread"], "toy_b": ["frames", "mixed"]}


def toy_config() -> dict:
    config = tiny_config()
    config["datasets"] = {"tones": {"kind": KIND, "speakers": 6, "per_speaker": 10, "seed": 0}}
    config["models"] = {
        "toy": {
            "family": FAMILY,
            "init": "random",
            "seed": 0,
            "config": {"dim": 12, "spread": True},
        },
        "toy_b": {"family": FAMILY, "init": "random", "seed": 1, "config": {"dim": 8}},
    }
    config["tasks"] = {
        "pitch": {"kind": "classification", "dataset": "tones", "label": "pitch"},
        "speaker_id": {"kind": "classification", "dataset": "tones", "label": "speaker"},
    }
    config["features"]["level"] = "utterance"
    config["similarity"].update(dataset="tones", measures=[MEASURE, "linear_cka"])
    config["similarity"]["levels"] = ["utterance"]
    return config


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    package = str(ROOT / "tests" / "extension")
    with pytest.MonkeyPatch.context() as env:  # for this module's runs only
        env.setenv("PYTHONPATH", os.pathsep.join([package, os.environ.get("PYTHONPATH", "")]))
        workdir = tmp_path_factory.mktemp("toys")
        (workdir / "config.yaml").write_text(yaml.safe_dump(toy_config()))
        run = Run(workdir, toy_config())
        run.snakemake()
        yield run


def test_the_own_corpus_is_prepared_in_the_real_layout(toy_run):
    manifest = pd.read_parquet(toy_run.workdir / "results/data/tones/manifest.parquet")
    assert len(manifest) == 60 and set(manifest["pitch"]) == {"low", "high"}
    assert manifest.groupby("split").size().to_dict() == {"train": 36, "dev": 12, "test": 12}


def test_the_own_encoder_is_probed_layer_by_layer(toy_run):
    table = pd.read_parquet(toy_run.workdir / "results/probes/summary/tones/pitch.parquet")
    layers = table.groupby("model")["layer"].agg(set).to_dict()
    # toy has an utterance-level layer (spread: true), probed and weighted like the others
    assert layers == {
        "toy": {"frames", "mixed", "spread", "weighted_sum"},
        "toy_b": {"frames", "mixed", "weighted_sum"},
    }
    # Pitch (a 1.5x frequency step) shows in a projection of 20 ms frames of the waveform:
    # well above the best constant guess (0.5) on 12 test tones.
    assert table["test"].max() >= 0.75 and table["chance"].max() == 0.5


def test_the_own_measure_matches_least_squares_from_scikit_learn(toy_run):
    root = toy_run.workdir / "results"
    stem = MEASURE.replace(":", ".")
    values = []
    for a, b in [("toy", "toy"), ("toy", "toy_b")]:
        table = read_similarity(root / f"similarity/{a}/{b}/tones/utterance/{stem}.parquet")
        assert table.attrs["measure"] == MEASURE
        _, xs = read_layers(root / f"features/{a}/tones", LAYERS[a])
        _, ys = read_layers(root / f"features/{b}/tones", LAYERS[b])
        for name_a, x in xs.items():
            for name_b, y in ys.items():
                # LinearR2 pools the variance of B's units (scikit-learn's score averages R²)
                fitted = LinearRegression().fit(x, y).predict(x) - y.mean(0)
                want = (fitted**2).sum() / ((y - y.mean(0)) ** 2).sum()
                assert table.loc[name_a, name_b] == pytest.approx(want, abs=1e-4)
                values.append(want)
    assert np.ptp(values) > 0.05  # the layers differ, so agreement means something


def test_the_utterance_level_layer_is_stored_as_one_row_per_utterance(toy_run):
    folder = toy_run.workdir / "results/features/toy/tones"
    ids, x = read_utterance_vectors(folder / "spread.parquet")
    assert len(ids) == 60 and x.shape == (60, 12) and (x > 0).all()  # spreads: positive
    meta = read_shard_metadata(folder / "spread.parquet")
    assert meta["frame_rate"] is None and meta["pooling"] is None
    assert meta["layer_index"] == 2 and meta["num_layers"] == 3
    frames = read_shard_metadata(folder / "frames.parquet")  # a frame-level layer, pooled
    assert frames["frame_rate"] == 50.0 and frames["pooling"] == "mean"
