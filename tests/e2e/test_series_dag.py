"""Checkpoint series through the real DAG: the tiny study's WavLM kept at its init, after one
epoch and at the end, and a user's folder of three ECAPA state dicts named by step. The first
checkpoint extracts exactly what training started from, the last exactly what it ended with,
the user's folder runs in step order by config alone, and the report's "during training"
section reads the probe summaries' own numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import run_dag, tiny_config

from strata.features.shards import read_shard
from strata.report.contrasts import MIXED, ORDER

pytestmark = pytest.mark.e2e
EPOCHS = [0, 1, 2]


ECAPA = {"n_mels": 40, "channels": [16, 16, 16, 16, 48], "lin_neurons": 8}
STEPS = [900, 1000, 50]  # in no order: the series puts them in step order


def _user_checkpoints(folder) -> None:
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN

    folder.mkdir(parents=True)
    for step in STEPS:
        torch.manual_seed(step)
        net = ECAPA_TDNN(40, channels=ECAPA["channels"], lin_neurons=ECAPA["lin_neurons"])
        torch.save(net.state_dict(), folder / f"step_{step}.pt")


@pytest.fixture(scope="module")
def series_run(tmp_path_factory):
    config = tiny_config()
    model = config["models"]["wavlm_mp"]
    model["train"]["snapshots"] = EPOCHS  # training keeps each, e0 and e2 for the test below
    model["snapshots"] = EPOCHS
    config["models"]["mine"] = {
        "family": "speechbrain_ecapa",
        "init": "pretrained",
        "role": "supervised",
        "frontend": "speechbrain_fbank",
        "config": ECAPA,
        "snapshots": {"files": "ckpts/step_*.pt"},
    }
    config["similarity"]["pairs"] = [["wavlm_mp", "wavlm_mp"]]  # and each series' own
    workdir = tmp_path_factory.mktemp("series")
    _user_checkpoints(workdir / "ckpts")
    return run_dag(workdir, config)


def test_the_report_reads_each_checkpoint_in_training_order(series_run):
    report = series_run.workdir / "results/report"
    trajectories = pd.read_csv(report / "dynamics.csv")
    members = ["wavlm_mp@e0", "wavlm_mp@e1", "wavlm_mp"]
    user = trajectories[trajectories["series"] == "mine"]
    assert list(user["checkpoint"].drop_duplicates()) == ["s50", "s900", "s1000"]
    assert list(user["model"].drop_duplicates()) == ["mine@s50", "mine@s900", "mine@s1000"]
    trajectories = trajectories[trajectories["series"] == "wavlm_mp"]
    for task, rows in trajectories.groupby("task"):
        assert list(rows["model"].drop_duplicates()) == members
        assert list(rows["checkpoint"].drop_duplicates()) == ["e0", "e1", "e2"]
        summary = pd.read_parquet(
            series_run.workdir / f"results/probes/summary/embedded/{task}.parquet"
        )
        joined = rows.merge(summary, on=["model", "layer"], suffixes=("", "_summary"))
        assert len(joined) == len(rows)
        np.testing.assert_allclose(
            joined["test"], joined["test_summary"], rtol=1e-5
        )  # CSV keeps 6 digits
        np.testing.assert_allclose(
            joined["ci_high"], joined["ci_high_summary"], rtol=1e-5
        )  # CSV keeps 6 digits
    html = (report / "index.html").read_text()
    assert 'id="during-training"' in html and "wavlm_mp: phones" in html
    # the user's series is a supervised speaker model: its phone claim is stated over steps
    assert "mine: phones" in html and "phone information fades in deeper layers: <b>" in html
    similar = pd.read_csv(report / "dynamics_similarity.csv")
    last = similar[similar["model"] == "wavlm_mp"]
    assert (last["to_final"] == 1.0).all() and last["to_init"].between(-1, 1).all()
    claims = pd.read_csv(report / "dynamics_claims.csv", keep_default_na=False)
    for (name, claim), rows in claims.groupby(["series", "claim"]):
        # tested at every checkpoint, the init too, each with the paired tests behind it
        expected = ["e0", "e1", "e2"] if name == "wavlm_mp" else ["s50", "s900", "s1000"]
        assert list(rows["checkpoint"]) == expected and (rows["evidence"] != "").all()
        assert f"{claim}: <b>{rows['statement'].iloc[0]}</b>" in html
        assert set(rows["outcome"]) <= {*ORDER, MIXED}
    # the in-between checkpoint is in the trajectories, not in the main verdicts and tables
    assert "wavlm_mp@e1" not in (report / "best_layers.csv").read_text()


def test_the_first_and_last_checkpoints_are_the_weights_training_started_and_ended_with(
    series_run,
):
    """Training's own kept init and last epoch, loaded as pretrained checkpoints, extract
    exactly the series' first (drawn from the seed, never trained) and last checkpoint."""
    config = series_run.copy_config()
    kept = "results/trained/wavlm_mp/snapshots"
    for epoch in (0, 2):
        path = f"{kept}/e{epoch}/checkpoint"
        config["models"][f"kept_e{epoch}"] = {
            "family": "hf_transformers",
            "init": "pretrained",
            "path": path,
        }
    targets = [f"results/features/kept_e{e}/embedded" for e in (0, 2)]
    series_run.snakemake(*targets, config=config)
    root = series_run.workdir / "results/features"
    for kept_model, member in (("kept_e0", "wavlm_mp@e0"), ("kept_e2", "wavlm_mp")):
        shards = sorted(p.name for p in (root / member / "embedded").glob("*.parquet"))
        assert shards
        for name in shards:
            ids_a, a = read_shard(root / kept_model / "embedded" / name)
            ids_b, b = read_shard(root / member / "embedded" / name)
            assert ids_a == ids_b
            np.testing.assert_array_equal(a, b, err_msg=f"{kept_model} vs {member}: {name}")
