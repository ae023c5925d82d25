"""docs/extending.md's task kind (tests/extension/strata_toys/tasks.py: nearest class centroid)
runs through the probe jobs' own code once it is in the registry, and scores what
scikit-learn's NearestCentroid scores, single layer and weighted sum."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.neighbors import NearestCentroid
from test_probes import PROBE, blobs, toy_manifest, write_layer

from strata.probes import kinds
from strata.probes.run import run_probe, run_weighted

TOYS = Path(__file__).resolve().parents[1] / "extension"


@pytest.fixture
def centroid_kind(monkeypatch):
    """The kind's registry line (in the package: one line in strata/probes/kinds.py)."""
    monkeypatch.syspath_prepend(str(TOYS))
    from strata_toys.tasks import CENTROID

    monkeypatch.setitem(kinds.TASK_KINDS, CENTROID.name, CENTROID)
    return CENTROID.name


def sklearn_accuracy(manifest, x) -> float:
    train, test = (manifest.split == "train").to_numpy(), (manifest.split == "test").to_numpy()
    fitted = NearestCentroid().fit(x[train], manifest.label[train])
    return float(np.mean(fitted.predict(x[test]) == manifest.label[test].to_numpy()))


def test_a_new_task_kind_runs_through_the_probe_jobs(centroid_kind, tmp_path):
    manifest = toy_manifest()
    manifest = manifest[manifest.split != "verification"].dropna().reset_index(drop=True)
    layers = {"layer_00": blobs(manifest, 0.3, seed=1), "layer_01": blobs(manifest, 0.6, seed=2)}
    for name, x in layers.items():
        write_layer(tmp_path, manifest, x, name)
    task = {"kind": centroid_kind, "label": "label"}
    outputs = (tmp_path / "m.json", tmp_path / "p.safetensors", tmp_path / "u.parquet")
    scores = [
        run_probe(tmp_path, name, manifest, None, "c", task, PROBE, outputs)["test"]
        for name in layers
    ]
    assert scores == [pytest.approx(sklearn_accuracy(manifest, x)) for x in layers.values()]
    assert len(set(scores)) == 2  # the layers differ, so agreement means something
    weighted = run_weighted(tmp_path, list(layers), manifest, None, "c", task, PROBE, outputs)
    side_by_side = np.hstack(list(layers.values()))
    assert weighted["test"] == pytest.approx(sklearn_accuracy(manifest, side_by_side))
    assert weighted["kind"] == centroid_kind and weighted["layer"] == "weighted_sum"
