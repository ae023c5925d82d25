"""docs/dynamics.md's blocks: the series run's snapshot and the layers it cites."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from strata.docs.blocks import BLOCKS, Sources
from strata.docs.dynamics_run import best_on_dev
from strata.docs.snapshot import DYNAMICS_TABLES, take_dynamics_snapshot

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "docs" / "runs" / "dynamics"

LOG = """Building DAG of jobs...
  Date: 2026-12-07 18:06:35
Provided cores: 2
124 of 124 steps (100%) done
Elapsed time: 0:25:30.0
"""


def scores(dev: list[float], test: list[float], metric: str = "per") -> pd.DataFrame:
    n = len(dev)
    return pd.DataFrame({
        "series": "m", "checkpoint": "e1", "at": 1, "model": "m@e1", "task": "phones",
        "metric": metric, "layer": [f"layer_{i:02d}" for i in range(n)],
        "layer_index": range(n), "dev": dev, "test": test,
    })  # fmt: skip


def test_the_cited_best_layer_is_chosen_on_dev_not_on_test():
    # test would pick layer_02, dev picks layer_01 (the earlier of two tied on dev)
    row = best_on_dev(scores([0.5, 0.3, 0.3, 0.6], [0.5, 0.4, 0.2, 0.7])).iloc[0]
    assert row["best layer (dev)"] == "layer_01" and row["its test"] == 0.4
    assert (row["first layer"], row["last layer"], row["layers"]) == (0.5, 0.7, 4)
    row = best_on_dev(scores([0.5, 0.3, 0.9], [0.5, 0.4, 0.2], "accuracy")).iloc[0]
    assert row["best layer (dev)"] == "layer_02"  # higher is better for accuracy


def fake_series_run(workdir: Path, code_version: str) -> None:
    report = workdir / "results" / "report"
    report.mkdir(parents=True)
    for i, name in enumerate(DYNAMICS_TABLES):
        (report / name).write_text(f"a,b\n{i},x\n")
    card = workdir / "results" / "models" / "m"
    card.mkdir(parents=True)
    (card / "card.json").write_text(f'{{"provenance": {{"code_version": "{code_version}"}}}}')
    (workdir / ".snakemake" / "log").mkdir(parents=True)
    (workdir / ".snakemake" / "log" / "a.snakemake.log").write_text(LOG)


def test_the_series_snapshot_keeps_its_tables_and_facts_and_refuses_a_dirty_tree(tmp_path):
    fake_series_run(tmp_path / "run", "0.1.0+abc123")
    dest = tmp_path / "docs" / "runs" / "dynamics"
    facts = take_dynamics_snapshot(tmp_path / "run", dest)
    assert facts == {
        "date": "2026-12-07", "cores": 2, "jobs": 124, "wall_seconds": 1530.0,
        "code_version": "0.1.0+abc123",
    }  # fmt: skip
    for name in DYNAMICS_TABLES:
        assert (dest / name).read_bytes() == (tmp_path / "run/results/report" / name).read_bytes()
    fake_series_run(tmp_path / "dirty", "0.1.0+abc123-dirty")
    with pytest.raises(ValueError, match="dirty tree"):
        take_dynamics_snapshot(tmp_path / "dirty", tmp_path / "elsewhere")


@pytest.mark.parametrize(
    ("series", "checkpoint", "sentence"),
    [
        ("ecapa_aam_s0", "e0", "the speaker fade holds at the init"),
        ("wavlm_mp_s0", "e6", "the intermediate peak holds at one in-between checkpoint only"),
    ],
)
def test_findings_refuse_a_series_run_that_contradicts_their_prose(
    tmp_path, series, checkpoint, sentence
):
    """Flip one checkpoint's outcome: the sentence resting on it stops `make docs`."""
    shutil.copytree(SNAPSHOT, tmp_path / "docs" / "runs" / "dynamics")
    path = tmp_path / "docs" / "runs" / "dynamics" / "dynamics_claims.csv"
    claims = pd.read_csv(path, keep_default_na=False)
    row = (claims["series"] == series) & (claims["checkpoint"] == checkpoint)
    assert row.sum() == 1
    claims.loc[row, "outcome"] = (
        "within noise" if claims.loc[row, "outcome"].item() == "reproduced" else "reproduced"
    )
    claims.to_csv(path, index=False)
    BLOCKS["dynamics-claims"](Sources(tmp_path))  # the table itself just shows it
    with pytest.raises(ValueError, match=sentence):
        BLOCKS["dynamics-findings"](Sources(tmp_path))
