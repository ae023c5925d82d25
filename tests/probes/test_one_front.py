"""A single-layer probe is the weighted-sum probe restricted to that layer: the same front
(standardisation, projection to projection_width), head, optimiser and schedule. So a layer's
score and its share of a weighted sum are measured by one probe, and a layer's curve does not
measure how far a different head got in its budget."""

import numpy as np
import pytest
from test_kinds_fit import PROBE, speakers
from test_phonemes import PROBE as CTC_PROBE
from test_phonemes import synthetic_phones

from strata.features.shards import ShardWriter
from strata.probes.nets import at_cap
from strata.probes.phonemes import fit_phonemes, fit_weighted_phonemes
from strata.probes.weighted import fit_classification_layer as fit_layer
from strata.probes.weighted import fit_weighted


def write(tmp_path, manifest, name, x):
    meta = {"model": "m", "dataset": "d", "layer": name, "layer_index": 0, "num_layers": 1}
    writer = ShardWriter(tmp_path / f"{name}.parquet", x.shape[1], "utterance", meta)
    writer.write(manifest.utt_id.tolist(), x)
    writer.close()
    return tmp_path / f"{name}.parquet"


def same_outcome(a, b):
    assert a.test == b.test and a.scores == b.scores and a.lr == b.lr
    assert sorted(k for k in a.state if k != "layers") == sorted(
        k for k in b.state if k != "layers"
    )
    for key, value in a.state.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, b.state[key])


def test_a_pooled_layer_probe_is_the_one_layer_weighted_sum(tmp_path):
    manifest, x, _ = speakers()
    path = write(tmp_path, manifest, "l0", x)
    task = {"kind": "classification", "label": "speaker"}
    single = fit_layer(path, manifest, None, task, PROBE)
    weighted = fit_weighted(tmp_path, ["l0"], manifest, None, task, PROBE)
    same_outcome(single, weighted)
    width = PROBE["projection_width"]
    assert single.state["projection_0_weight"].shape == (width, x.shape[1])
    assert single.state["weight"].shape[1] == width


def test_a_ctc_layer_probe_is_the_one_layer_weighted_sum(tmp_path):
    path, manifest, _ = synthetic_phones(tmp_path)
    task = {"kind": "phoneme_recognition"}
    single = fit_phonemes(path, manifest, task, CTC_PROBE)
    weighted = fit_weighted_phonemes(tmp_path, ["l"], manifest, task, CTC_PROBE)
    assert single.test == weighted.test and single.scores == weighted.scores
    for key, value in single.state.items():
        if hasattr(value, "shape"):
            np.testing.assert_array_equal(np.asarray(value), np.asarray(weighted.state[key]))
    assert single.state["head.weight"].shape[1] == CTC_PROBE["projection_width"]


@pytest.mark.parametrize(
    ("best", "run", "cap", "flagged"),
    [(10, 10, 10, True), (9, 10, 10, True), (8, 10, 10, False), (5, 8, 10, False)],
)
def test_a_probe_still_improving_at_its_cap_is_flagged(best, run, cap, flagged):
    assert at_cap(best, run, cap) == flagged


def test_the_flag_reaches_the_metrics(tmp_path):
    manifest, x, _ = speakers()
    path = write(tmp_path, manifest, "l0", x)
    task = {"kind": "classification", "label": "speaker"}
    short = fit_layer(path, manifest, None, task, PROBE | {"max_epochs": 1, "patience": 1})
    assert short.extra["at_cap"] and short.extra["epochs_run"] == 1
    patient = fit_layer(path, manifest, None, task, PROBE | {"max_epochs": 400})
    assert not patient.extra["at_cap"]
