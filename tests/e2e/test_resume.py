"""No lost work: a run SIGKILLed in every stage resumes to the same results as a run left
alone in another folder (so two runs with the same seeds agree, bit for bit), and what the
killed jobs half-wrote is gone."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from artifacts import assert_same_results
from conftest import snakemake_argv, tiny_config

pytestmark = pytest.mark.e2e

# Every rule that does work; each is killed once, mid-job.
STAGES = (
    "prepare_dataset",
    "prepare_model",
    "extract_features",
    "train_probe",
    "train_weighted_probe",
    "layer_similarity",
    "summarise_probes",
    "report",
)
# Where these stages' jobs write before their output is complete: killed only once they have.
HALF_WRITTEN = {
    "prepare_dataset": "results/data/.embedded.*.tmp/*",
    "extract_features": "results/features/wavlm_random/.embedded.*.tmp/*",
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
