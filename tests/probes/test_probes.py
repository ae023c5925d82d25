import numpy as np
import pandas as pd
import pytest

from strata.features.shards import ShardWriter
from strata.io import read_json, read_parquet_metadata
from strata.probes import classification_data
from strata.probes.checkpoint import read_probe
from strata.probes.linear import predict
from strata.probes.run import run_probe, summarise

PROBE = {
    "lrs": [0.01],
    "weight_decay": 1e-4,
    "batch_size": 32,
    "max_epochs": 60,
    "patience": 8,
    "seed": 0,
    "bootstrap": 200,
    "confidence": 0.95,
    "projection_width": 4,
}
LR = 0.01


def toy_manifest(n_per_class=30, classes=("a", "b", "c")):
    rows = []
    for c in classes:
        for i in range(n_per_class):
            split = "train" if i < n_per_class * 0.6 else "dev" if i < n_per_class * 0.8 else "test"
            rows.append({"utt_id": f"{c}{i:03d}", "label": c, "split": split})
    rows.append({"utt_id": "zz_nolabel", "label": None, "split": "train"})
    rows.append({"utt_id": "zz_verif", "label": "a", "split": "verification"})
    return pd.DataFrame(rows)


def blobs(manifest, separation, seed=0):
    rng = np.random.default_rng(seed)
    centers = {c: rng.normal(size=8) * separation for c in ["a", "b", "c"]}
    return np.stack([centers.get(lab, np.zeros(8)) + rng.normal(size=8) for lab in manifest.label])


def test_classification_data_uses_only_labelled_split_rows():
    manifest = toy_manifest()
    x = blobs(manifest, 1.0)
    data = classification_data(manifest, manifest.utt_id.tolist(), x, {"label": "label"})
    assert data.classes == ["a", "b", "c"]
    assert sum(len(v) for v in data.ids.values()) == 90
    assert "zz_nolabel" not in data.ids["train"] and "zz_verif" not in data.ids["test"]
    row = manifest.index[manifest.utt_id == data.ids["dev"][0]][0]
    np.testing.assert_array_equal(data.x["dev"][0], x[row])
    assert data.classes[data.y["dev"][0]] == manifest.label[row]
    # Probe jobs pass the manifest as plain columns (as pyarrow reads it), not a DataFrame.
    columns = {c: [None if v is None or v != v else v for v in manifest[c]] for c in manifest}
    plain = classification_data(columns, manifest.utt_id.tolist(), x, {"label": "label"})
    assert plain.ids == data.ids and plain.classes == data.classes
    for split in data.y:
        np.testing.assert_array_equal(plain.y[split], data.y[split])


def test_classification_data_errors():
    manifest = toy_manifest()
    x = blobs(manifest, 1.0)
    with pytest.raises(KeyError, match="'speaker'"):
        classification_data(manifest, manifest.utt_id.tolist(), x, {"label": "speaker"})
    with pytest.raises(ValueError, match="disagree"):
        classification_data(manifest, manifest.utt_id.tolist()[::-1], x, {"label": "label"})
    manifest.loc[manifest.label.eq("c") & manifest.split.eq("train"), "split"] = "dev"
    with pytest.raises(ValueError, match="absent from train: \\['c'\\]"):
        classification_data(manifest, manifest.utt_id.tolist(), x, {"label": "label"})


def fit(manifest, x, probe=None):
    from strata.probes.weighted import fit_classification

    ids = manifest.utt_id.tolist()
    return fit_classification(x, ids, manifest, {"label": "label"}, probe or PROBE)


def test_probe_separates_separable_classes_and_not_noise():
    manifest = toy_manifest()
    easy, noise = fit(manifest, blobs(manifest, 3.0)), fit(manifest, blobs(manifest, 0.0))
    assert easy.test.value >= 0.95
    assert noise.test.value <= 0.6
    assert 1 <= easy.extra["best_epoch"] <= easy.extra["epochs_run"] <= PROBE["max_epochs"]


def test_probe_is_deterministic_given_seed():
    manifest = toy_manifest()
    x = blobs(manifest, 1.0)
    first, second = fit(manifest, x), fit(manifest, x)
    np.testing.assert_array_equal(first.state["weight"], second.state["weight"])
    other = fit(manifest, x, {**PROBE, "seed": 1})
    assert not np.array_equal(first.state["weight"], other.state["weight"])


def write_layer(directory, manifest, x, layer="layer_02"):
    meta = {"model": "toy", "dataset": "d", "layer": layer, "layer_index": 2, "num_layers": 4}
    writer = ShardWriter(directory / f"{layer}.parquet", x.shape[1], "utterance", meta)
    writer.write(manifest.utt_id.tolist(), x)
    writer.close()


def test_run_probe_checkpoint_reproduces_metrics(tmp_path):
    manifest = toy_manifest()
    x = blobs(manifest, 1.0)
    write_layer(tmp_path, manifest, x)
    task = {"kind": "classification", "label": "label"}
    metrics = run_probe(
        tmp_path, "layer_02", manifest, None, "cls", task, PROBE,
        (tmp_path / "m.json", tmp_path / "probe.safetensors", tmp_path / "u.parquet"),
    )  # fmt: skip
    assert read_json(tmp_path / "m.json") == metrics
    assert metrics["n"] == {"train": 54, "dev": 18, "test": 18}
    assert metrics["chance"] == pytest.approx(1 / 3)  # balanced test set: 6 of each class
    assert metrics["ci_low"] <= metrics["test"] <= metrics["ci_high"]
    assert metrics["lr"] == LR and list(metrics["dev_by_lr"]) == [str(LR)]
    skewed = manifest.drop(manifest.index[(manifest.split == "test") & (manifest.label == "c")])
    write_layer(tmp_path, skewed, x[skewed.index.to_numpy()])
    skewed = skewed.reset_index(drop=True)
    again = run_probe(
        tmp_path, "layer_02", skewed, None, "cls", task, PROBE,
        (tmp_path / "m2.json", tmp_path / "p2.safetensors", tmp_path / "u2.parquet"),
    )  # fmt: skip
    assert again["chance"] == pytest.approx(1 / 2)  # test holds only a and b, 6 each
    state = read_probe(tmp_path / "probe.safetensors")
    assert state["provenance"] == metrics["provenance"]
    test = manifest[manifest.split == "test"]
    predicted = predict(state, x[test.index.to_numpy()])
    assert np.mean(np.array(predicted) == test.label.to_numpy()) == pytest.approx(metrics["test"])
    table = summarise([tmp_path / "m.json"], tmp_path / "summary.parquet", tmp_path / "s.csv")
    assert table.loc[0, "layer"] == "layer_02" and table.loc[0, "test"] == metrics["test"]
    assert pd.read_parquet(tmp_path / "summary.parquet").loc[0, "num_layers"] == 4
    summary_meta = read_parquet_metadata(tmp_path / "summary.parquet")
    assert summary_meta["metrics"] == [str(tmp_path / "m.json")]
    assert summary_meta["code_version"] == metrics["provenance"]["code_version"]
    assert pd.read_csv(tmp_path / "s.csv").loc[0, "ci_high"] == pytest.approx(metrics["ci_high"])


def test_the_learning_rate_is_chosen_on_dev():
    manifest = toy_manifest()
    x = blobs(manifest, 1.0)
    from strata.probes.weighted import fit_classification

    outcome = fit_classification(
        x, manifest.utt_id.tolist(), manifest, {"label": "label"}, {**PROBE, "lrs": [1e-6, 0.05]}
    )
    assert outcome.dev_by_lr[str(1e-6)] < outcome.dev_by_lr[str(0.05)]
    assert outcome.lr == 0.05


def test_shuffled_labels_stay_near_chance_and_are_not_flagged_above_it():
    manifest = toy_manifest()
    shuffled = manifest.assign(label=manifest.label.sample(frac=1, random_state=0).to_numpy())
    from strata.probes.weighted import fit_classification

    outcome = fit_classification(
        blobs(manifest, 3.0), manifest.utt_id.tolist(), shuffled, {"label": "label"}, PROBE
    )
    assert outcome.test.ci_low <= outcome.chance + 0.1


def test_probe_checkpoint_round_trips_arrays_tensors_and_metadata(tmp_path):
    import torch

    from strata.probes.checkpoint import write_probe

    state = {
        "weight": np.arange(6, dtype=np.float32).reshape(2, 3),
        "head.bias": torch.tensor([0.5, -1.0]),
        "classes": ["a", "b"],
        "lr": 0.01,
    }
    write_probe(tmp_path / "p.safetensors", state, {"model": "toy"})
    back = read_probe(tmp_path / "p.safetensors")
    np.testing.assert_array_equal(back["weight"], state["weight"])
    np.testing.assert_array_equal(back["head.bias"], [0.5, -1.0])
    assert back["classes"] == ["a", "b"] and back["lr"] == 0.01
    assert back["provenance"] == {"model": "toy"}


def test_pooled_probe_jobs_import_neither_torch_nor_pandas():
    """Their fixed cost per job is Python start plus imports: torch (~2 s) and pandas (~0.5 s)
    stay out of a classification or verification job's path."""
    import subprocess
    import sys

    code = (
        "import sys; import strata.probes.run, strata.probes.classify, strata.probes.verify, "
        "strata.probes.weighted, strata.probes.checkpoint, strata.workflow; "
        "print(sorted(m for m in ('torch', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_read_columns_names_a_missing_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from strata.io import read_columns

    pq.write_table(pa.table({"utt_id": ["a", "b"], "split": ["train", None]}), tmp_path / "m.pq")
    assert read_columns(tmp_path / "m.pq", ("utt_id",)) == {
        "utt_id": ["a", "b"],
        "split": ["train", None],
    }
    with pytest.raises(ValueError, match="m.pq: missing column 'label'"):
        read_columns(tmp_path / "m.pq", ("utt_id", "label"))
