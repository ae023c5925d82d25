"""A training run killed mid-epoch resumes from its last finished epoch and ends with exactly
the weights and losses of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from strata.training import LOSSES
from strata.training.run import state_dir_of

HERE = Path(__file__).parent
SCRIPT = f"""
import logging, sys
from pathlib import Path
import torch
torch.set_num_threads(1)
sys.path.insert(0, {str(HERE)!r})
from training_setup import trained_config
from strata.training.run import train_model
logging.basicConfig(level=logging.INFO)
cfg = trained_config("aam_softmax", 4, batch_size=2, augment=dict())  # augmented
train_model("m", cfg, Path(sys.argv[1]), Path(sys.argv[2]), progress=False)
"""


def start(corpus: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(corpus), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def kill_after_first_epoch(proc: subprocess.Popen, state: Path) -> int:
    """SIGKILL ``proc`` soon after its first epoch's state appears; the epoch it had saved."""
    deadline = time.monotonic() + 300
    while not state.exists():
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "no epoch finished in 5 minutes"
        time.sleep(0.05)
    time.sleep(0.5)  # into the second epoch
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return torch.load(state, weights_only=True)["epoch"]


def weights(out: Path) -> dict[str, torch.Tensor]:
    files = sorted((out / "checkpoint").glob("*.ckpt"))
    return {f"{f.name}:{k}": v for f in files for k, v in torch.load(f).items()}


def test_killed_training_resumes_and_matches_an_uninterrupted_run(corpus, tmp_path):
    reference = tmp_path / "a" / "m"
    assert start(corpus, reference).wait() == 0
    out = tmp_path / "b" / "m"
    saved = kill_after_first_epoch(start(corpus, out), state_dir_of(out) / "state.pt")
    assert 1 <= saved < 4 and not out.exists()  # killed mid-run, before any output
    resumed = start(corpus, out)
    log, _ = resumed.communicate()
    assert resumed.returncode == 0, log
    assert f"after epoch {saved}" in log
    assert not state_dir_of(out).exists()  # the state goes once the output is complete
    expected, actual = weights(reference), weights(out)
    assert expected.keys() == actual.keys() and len(expected) > 10
    for key, value in expected.items():
        assert torch.equal(value, actual[key]), key
    columns = ["epoch", "step", "loss", "lr"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(reference / LOSSES)[columns], pd.read_parquet(out / LOSSES)[columns]
    )
