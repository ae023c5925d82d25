"""Each probe job's per-unit test outcomes (test_units.parquet) reproduce its test metric and
interval: the rows are exactly its test utterances or trials, the units the clusters its
bootstrap resampled; single layer and weighted sum, every task kind."""

from __future__ import annotations

import numpy as np
import pytest
from test_kinds_fit import PROBE as TRIAL_PROBE
from test_kinds_fit import speakers
from test_phonemes import PROBE as CTC_PROBE
from test_phonemes import synthetic_phones
from test_probes import PROBE, blobs, toy_manifest, write_layer

from strata.features.shards import ShardWriter
from strata.probes.kinds import TASK_KINDS, TaskKind
from strata.probes.metrics import bootstrap
from strata.probes.run import run_probe, run_weighted
from strata.probes.units import read_units

IDENTITY = ("model", "dataset", "task", "layer", "metric", "kind")


def outputs(directory):
    return (directory / "m.json", directory / "p.safetensors", directory / "test_units.parquet")


def reproduces(metrics: dict, path, probe: dict) -> dict[str, np.ndarray]:
    """The units file's statistic gives the metrics' test value, and resampling its units gives
    their interval (utterance ids here sort in row order, as the bootstrap's positions do)."""
    units, meta = read_units(path)
    assert {k: meta[k] for k in IDENTITY} == {k: metrics[k] for k in IDENTITY}
    assert meta["code_version"] == metrics["provenance"]["code_version"]
    assert len({len(column) for column in units.values()}) == 1  # one row per test row
    statistic = TASK_KINDS[metrics["kind"]].statistic(units)
    assert statistic(np.ones((1, len(units["key"]))))[0] == pytest.approx(metrics["test"])
    again = bootstrap(
        statistic, units["unit"], probe["bootstrap"], probe["confidence"], probe["seed"]
    )
    assert (again.ci_low, again.ci_high) == pytest.approx((metrics["ci_low"], metrics["ci_high"]))
    return units


def test_classification_units_are_the_test_utterances(tmp_path):
    manifest = toy_manifest()
    layers = {"layer_00": blobs(manifest, 1.0, seed=1), "layer_01": blobs(manifest, 0.5, seed=2)}
    for name, x in layers.items():
        write_layer(tmp_path, manifest, x, name)
    task = {"kind": "classification", "label": "label"}
    test_ids = manifest.utt_id[(manifest.split == "test") & manifest.label.notna()].tolist()
    for name, run in (("one", "layer_00"), ("weighted", None)):
        out = outputs(tmp_path / name)
        if run is None:
            metrics = run_weighted(tmp_path, list(layers), manifest, None, "cls", task, PROBE, out)
        else:
            metrics = run_probe(tmp_path, run, manifest, None, "cls", task, PROBE, out)
        units = reproduces(metrics, out[2], PROBE)
        assert sorted(units) == ["correct", "key", "unit"]
        assert units["key"].tolist() == test_ids and units["unit"].tolist() == test_ids
        assert units["correct"].dtype == np.float64 and set(units["correct"]) <= {0.0, 1.0}
        assert 0 < metrics["test"] < 1  # some right, some wrong: the match means something


def write_speaker_layers(directory, manifest, layers: dict[str, np.ndarray]) -> None:
    for i, (name, x) in enumerate(layers.items()):
        meta = {"model": "m", "dataset": "d", "layer": name, "layer_index": i, "num_layers": 2}
        writer = ShardWriter(directory / f"{name}.parquet", x.shape[1], "utterance", meta)
        writer.write(manifest.utt_id.tolist(), x)
        writer.close()


def test_verification_units_are_the_test_trials_clustered_by_enrolment_speaker(tmp_path):
    manifest, x, trials = speakers(separation=1.0)
    noise = np.random.default_rng(3).normal(size=x.shape)
    write_speaker_layers(tmp_path, manifest, {"l0": x, "l1": noise})
    test = trials[trials.split == "test"]
    keys = [f"{e}|{t}" for e, t in zip(test.enrollment, test.test, strict=True)]
    speaker = dict(zip(manifest.utt_id, manifest.speaker, strict=True))
    task = {"kind": "verification", "scoring": "projection"}
    for name, run in (("one", "l0"), ("weighted", None)):
        out = outputs(tmp_path / name)
        common = (manifest, trials, "asv", task, TRIAL_PROBE, out)
        if run is None:
            metrics = run_weighted(tmp_path, ["l0", "l1"], *common)
        else:
            metrics = run_probe(tmp_path, run, *common)
        units = reproduces(metrics, out[2], TRIAL_PROBE)
        assert sorted(units) == ["key", "score", "target", "unit"]
        assert units["key"].tolist() == keys
        assert units["unit"].tolist() == [speaker[e] for e in test.enrollment]
        assert units["target"].dtype == bool and units["target"].tolist() == test.target.tolist()
        assert units["score"].dtype == np.float64
        assert 0 < metrics["test"] < 0.5


def write_frame_layer(directory, name: str, path) -> None:
    """A second frame layer (the first's frames, shuffled per dimension: uninformative)."""
    from strata.features.stream import index_frames, read_utterances

    index = index_frames(path)
    x = read_utterances(index, np.arange(len(index.ids)))
    x = np.random.default_rng(0).permuted(x, axis=0)
    meta = {"model": "m", "dataset": "d", "layer": name, "layer_index": 1, "num_layers": 2}
    writer = ShardWriter(directory / f"{name}.frames.parquet", x.shape[1], "frame", meta)
    ids = np.repeat(index.ids, index.lengths).tolist()
    writer.write(ids, x, np.concatenate([np.arange(n) for n in index.lengths]))
    writer.close()


def test_phoneme_units_are_the_test_utterances_edit_counts(tmp_path):
    path, manifest, _ = synthetic_phones(tmp_path)
    write_frame_layer(tmp_path, "l2", path)
    task = {"kind": "phoneme_recognition"}
    probe = CTC_PROBE | {"max_epochs": 15}
    test = manifest[manifest.split == "test"]
    for name, run in (("one", "l"), ("weighted", None)):
        out = outputs(tmp_path / name)
        if run is None:
            metrics = run_weighted(tmp_path, ["l", "l2"], manifest, None, "pr", task, probe, out)
        else:
            metrics = run_probe(tmp_path, run, manifest, None, "pr", task, probe, out)
        units = reproduces(metrics, out[2], probe)
        assert sorted(units) == ["edits", "key", "length", "unit"]
        assert units["key"].tolist() == test.utt_id.tolist() == units["unit"].tolist()
        assert units["length"].tolist() == [float(len(p)) for p in test.phones]
        assert units["edits"].dtype == np.float64 and (units["edits"] >= 0).all()


def test_a_missing_or_truncated_units_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "test_units.parquet"
    with pytest.raises(FileNotFoundError, match="test_units.parquet"):
        read_units(path)
    from strata.probes.units import write_units

    write_units(path, {"key": np.array(["a"], object), "unit": np.array(["a"], object)}, {})
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match=f"{path}: damaged"):
        read_units(path)
    write_units(path, {"key": np.array(["a"], object)}, {})
    with pytest.raises(ValueError, match="without column 'unit'"):
        read_units(path)


def test_a_kind_without_a_statistic_says_so():
    kind = TaskKind("toy", "accuracy", True, False, None)
    with pytest.raises(NotImplementedError, match="'toy'"):
        kind.statistic({})
