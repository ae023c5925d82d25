"""probe.jobs: model — one job runs a model's every probe of a task; each layer's files and the
weighted sum's are those its own job (probe.jobs: layer) writes."""

import pandas as pd
from test_probes import PROBE, blobs, toy_manifest, write_layer

from strata.io import read_json
from strata.probes.run import probe_job, probe_outputs, probe_set_job

LAYERS = ["layer_00", "layer_01"]
TASK = {"kind": "classification", "label": "label"}


def test_a_model_job_writes_what_the_per_layer_jobs_write(tmp_path):
    manifest = toy_manifest()
    data, features = tmp_path / "data", tmp_path / "features"
    data.mkdir()
    features.mkdir()
    manifest.to_parquet(data / "manifest.parquet")
    for seed, layer in enumerate(LAYERS):
        write_layer(features, manifest, blobs(manifest, 0.5 + seed, seed=seed), layer=layer)
    common = {"features": features, "data": data, "task_name": "cls", "task": TASK,
              "probe": PROBE}  # fmt: skip
    written = probe_set_job(**common, layers=LAYERS, out_dir=tmp_path / "set")
    assert [m["layer"] for m in written] == [*LAYERS, "weighted_sum"]
    for name in [*LAYERS, "weighted"]:
        alone = probe_outputs(tmp_path / "alone" / name)
        weighted = name == "weighted"
        probe_job(**common, outputs=alone, layers=LAYERS if weighted else None,
                  layer=None if weighted else name)  # fmt: skip
        together = probe_outputs(tmp_path / "set" / name)
        a, b = read_json(alone[0]), read_json(together[0])
        a.pop("provenance"), b.pop("provenance")
        assert a == b, name
        pd.testing.assert_frame_equal(pd.read_parquet(alone[2]), pd.read_parquet(together[2]))
