"""No lost work: a run SIGKILLed in every stage resumes to the same results as a run left
alone in another folder (so two runs with the same seeds agree, bit for bit), and what the
killed jobs half-wrote is gone."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import torch  # here already: the kill watches the training state, and waits for nothing
import yaml
from artifacts import assert_same_results, content
from conftest import ROOT, snakemake_argv, tiny_config
from defaults import single_seed

from strata.io import read_json
from strata.training.loop import STATE

pytestmark = pytest.mark.e2e

# Every script that does work, through one of its rules; each is killed once, mid-job. The
# rules left out run the same script as one here (train_frame_probes: train_probes';
# train_probe and the weighted-sum rules: train_frame_probe's), on other wildcards.
STAGES = (
    "prepare_dataset",
    "train_model",
    "prepare_model",
    "extract_features",
    "train_probes",
    "train_frame_probe",
    "layer_similarity",
    "summarise_probes",
    "report",
)
EPOCHS = 8  # a training run's: short ones, so the kill lands between two of them
# Where these stages' jobs write before their output is complete: killed only once they have.
HALF_WRITTEN = {
    "prepare_dataset": "results/data/.embedded.*.tmp/*",
    "extract_features": "results/features/wavlm_mp/.embedded.*.tmp/*",
}


def snakemake(workdir: Path, *args: str, **kwargs) -> subprocess.Popen:
    cmd = snakemake_argv("--cores", "2", *args)
    return subprocess.Popen(cmd, cwd=workdir, stderr=subprocess.STDOUT, **kwargs)


def started(log: str) -> set[str]:
    return set(re.findall(r"^(?:local)?rule (\w+):$", log, re.M)) & set(STAGES)


def kill_at_next_stage(workdir: Path, killed: set[str]) -> set[str]:
    """Run until a job of a stage not yet killed is mid-way, then SIGKILL the run and all its
    jobs (one process group); return the stages it had started. None: the run finished."""
    path = workdir / "segment.log"
    with open(path, "w") as log:
        proc = snakemake(workdir, stdout=log, start_new_session=True)
    first_seen, deadline = None, time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline:
        new = started(path.read_text()) - killed
        if new and first_seen is None:
            first_seen = time.monotonic()
        if new and ready(workdir, new, time.monotonic() - first_seen):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return started(path.read_text())
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"no job of {set(STAGES) - killed} was killed:\n{path.read_text()}")


def ready(workdir: Path, stages: set[str], waited: float) -> bool:
    """Mid-job: its temp output has content, or (stages without one) a second has passed."""
    partial = [HALF_WRITTEN[s] for s in stages if s in HALF_WRITTEN]
    if partial and waited < 60:
        return any(any(workdir.glob(pattern)) for pattern in partial)
    return waited >= 1.0


def test_a_run_killed_in_every_stage_resumes_to_the_same_results(tiny_run, tmp_path):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(tiny_config()))
    killed: set[str] = set()
    leftovers: set[Path] = set()
    while killed != set(STAGES):
        killed |= kill_at_next_stage(tmp_path, killed)
        leftovers |= set((tmp_path / "results").rglob(".*.tmp"))
        # A killed run leaves its lock: the next one refuses, naming --unlock, until unlocked.
        refused = snakemake(tmp_path, stdout=subprocess.PIPE, text=True)
        assert refused.wait(timeout=120) != 0 and "--unlock" in refused.stdout.read()
        assert snakemake(tmp_path, "--unlock", stdout=subprocess.DEVNULL).wait() == 0
    assert leftovers, "no job was killed while half-written"
    finish = snakemake(tmp_path, stdout=subprocess.PIPE, text=True)
    out = finish.stdout.read()
    assert finish.wait() == 0, out[-3000:]
    assert not list((tmp_path / "results").rglob(".*.tmp")), "a killed job's temp files remain"
    assert_same_results(tiny_run.workdir, tmp_path)


def training_config() -> dict:
    """The tiny study plus a tiny ECAPA trained for eight short epochs on its corpus."""
    config = tiny_config()
    default = single_seed(yaml.safe_load((ROOT / "config.yaml").read_text()))["models"]
    ecapa = default["ecapa_aam"]
    ecapa["config"].update(channels=[16, 16, 16, 16, 48], lin_neurons=16)
    ecapa["train"].update(epochs=EPOCHS, batch_size=8, dataset="embedded", snapshots=[0, 1, EPOCHS])
    config["models"] = {"ecapa": ecapa}
    config["training"] = {"checkpoints": "train"}
    return config


def trained(workdir: Path, data_from: Path, kill_after_epoch: int | None = None) -> Path:
    """``results/trained/ecapa`` through Snakemake; with ``kill_after_epoch``, the run (every
    process of it) is SIGKILLed once that epoch's resumable state is saved, then run again."""
    (workdir / "results").mkdir(parents=True)
    shutil.copytree(data_from / "results/data", workdir / "results/data")  # no re-synthesis
    (workdir / "config.yaml").write_text(yaml.safe_dump(training_config()))
    target = "results/trained/ecapa"
    if kill_after_epoch is not None:
        state = workdir / "results/trained/.resume/ecapa" / STATE
        proc = snakemake(workdir, target, stdout=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 600
        while proc.poll() is None and time.monotonic() < deadline:
            if state.exists() and epoch_of(state) >= kill_after_epoch:
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        assert proc.wait() != 0, "the run ended before it could be killed"
        assert not (workdir / target).exists()  # nothing half-written where the output goes
        assert snakemake(workdir, "--unlock", stdout=subprocess.DEVNULL).wait() == 0
    finish = snakemake(workdir, target, stdout=subprocess.PIPE, text=True)
    log = finish.stdout.read()
    assert finish.wait() == 0, log[-3000:]
    return workdir / target


def epoch_of(state: Path) -> int:
    try:
        return torch.load(state, map_location="cpu", weights_only=True)["epoch"]
    except (RuntimeError, EOFError, OSError):  # being replaced this instant
        return 0


def test_a_training_job_killed_mid_run_resumes_to_the_same_weights(tiny_run, tmp_path):
    alone = trained(tmp_path / "alone", tiny_run.workdir)
    resumed = trained(tmp_path / "killed", tiny_run.workdir, kill_after_epoch=2)
    summary = read_json(resumed / "training.json")
    assert summary["epochs"] == EPOCHS
    assert summary["steps"] == read_json(alone / "training.json")["steps"]
    log = (resumed.parents[2] / "logs/train_model/ecapa.log").read_text()
    resumed_after = re.search(r"resuming from \S+ after epoch (\d+)\n", log)
    assert resumed_after and 2 <= int(resumed_after[1]) < EPOCHS, log[-2000:]
    # The same weights, bit for bit, and the same losses step by step (timings aside).
    weights = sorted(p.relative_to(alone) for p in (alone / "checkpoint").rglob("*") if p.is_file())
    assert weights and weights == sorted(
        p.relative_to(resumed) for p in (resumed / "checkpoint").rglob("*") if p.is_file()
    )
    for path in weights:
        assert content(alone / path) == content(resumed / path), path
    losses = [
        pd.read_parquet(d / "losses.parquet").drop(columns="seconds") for d in (alone, resumed)
    ]
    pd.testing.assert_frame_equal(*losses)
    assert not (resumed.parent / ".resume/ecapa").exists()  # the state goes with success
