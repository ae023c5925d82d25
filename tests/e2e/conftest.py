"""Shared fixture: the real DAG, run once per session on a reduced config in a temp dir."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from defaults import single_seed

from strata.benchmarks.dag import job_counts

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def reduced_config() -> dict:
    """The default config shrunk to test size: 8 speakers (6 generated timbres and 2 fixed
    voices; 2 give dev trials, 2 test trials),
    tiny models (one trained), four tasks."""
    config = single_seed(yaml.safe_load((ROOT / "config.yaml").read_text()))
    corpus = config["datasets"]["embedded"]
    corpus.update(
        utterances_per_speaker=30,
        keyword_fraction=0.5,  # enough keyword texts that every class is in train
        keywords=["yes", "no", "up", "down"],
        styles={k: corpus["styles"][k] for k in ["neutral", "fast"]},
        splits={
            "verification_speakers": 4,
            "verification_dev_speakers": 2,
            "dev_fraction": 0.2,
            "test_fraction": 0.2,
        },
        trials_per_speaker=30,
        speakers={"count": 6, "accents": corpus["speakers"]["accents"][:4]},
        voices=[
            {"engine": "flite", "voice": "slt"},
            {"engine": "festival", "voice": "kal_diphone"},
        ],
    )
    wavlm = config["models"]["wavlm_random"]["config"]
    wavlm.update(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=[32] * 7,
    )
    # ecapa_aam shares ecapa_random's architecture (a YAML anchor): trained from it, briefly.
    config["models"]["ecapa_random"]["config"].update(channels=[32, 32, 32, 32, 96], lin_neurons=32)
    models = config["models"]
    config["models"] = {m: models[m] for m in ["wavlm_random", "ecapa_random", "ecapa_aam", "ge2e"]}
    # Trained here (not shipped), briefly, on the probed corpus: the pretraining corpus costs
    # minutes to synthesise.
    config["training"] = {"checkpoints": "train"}
    del config["datasets"]["pretrain"]
    config["models"]["ecapa_aam"]["train"].update(epochs=2, batch_size=8, dataset="embedded")
    del config["models"]["ecapa_aam"]["train"]["snapshots"]  # config.yaml's outlast 2 epochs
    config["models"]["ge2e"]["random_twin"] = {"seed": 0}  # a pretrained model's control
    config["tasks"] = {k: config["tasks"][k] for k in ["speaker_id", "keyword", "asv", "phones"]}
    # Too few speakers for held-out sentences per speaker: speaker tasks read every utterance.
    for task in ("speaker_id", "asv"):
        del config["tasks"][task]["where"]
    config["similarity"].update(
        pairs="all",
        measures=["linear_cka"],
        frames={"n": 1500, "per_utterance": 4, "seed": 0},
        controls={"groups": 10, "permutations": 19, "confidence": 0.9, "seed": 0},
    )
    config["probe"].update(max_epochs=40, lrs=[0.005, 0.02], bootstrap=200)
    return config


def tiny_config() -> dict:
    """configs/smoke.yaml: the smallest study that runs every rule (one tiny WavLM, trained
    for two epochs)."""
    return yaml.safe_load((ROOT / "configs" / "smoke.yaml").read_text())


def snakemake_argv(*args: str, configfile: str | Path = "config.yaml") -> list[str]:
    """snakemake on the repo's Snakefile; ``args`` (options, targets) come first, because
    everything after ``--configfile`` is read as one more config file."""
    snakefile = str(ROOT / "Snakefile")
    return [str(SNAKEMAKE), *args, "--snakefile", snakefile, "--configfile", str(configfile)]


@dataclass
class Run:
    workdir: Path
    config: dict

    def snakemake(self, *args: str, config: dict | None = None, check: bool = True):
        """Run snakemake on the repo's Snakefile in ``workdir``; returns the completed process."""
        path = self.workdir / "config.yaml"
        if config is not None:
            path = self.workdir / "changed.yaml"
            path.write_text(yaml.safe_dump(config))
        cmd = snakemake_argv("--cores", "2", *args, configfile=path)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.run(cmd, cwd=self.workdir, capture_output=True, text=True, env=env)
        if check and proc.returncode != 0:
            raise AssertionError(f"snakemake failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
        return proc

    def planned_jobs(self, config: dict | None = None, args: Sequence[str] = ()) -> dict[str, int]:
        """Rule → job count of a dry run (empty when there is nothing to do)."""
        jobs = job_counts(self.snakemake("-n", *args, config=config).stdout)
        return {rule: n for rule, n in jobs.items() if rule not in ("total", "all")}

    def copy_config(self) -> dict:
        return copy.deepcopy(self.config)


def run_dag(workdir: Path, config: dict) -> Run:
    """Write ``config`` into ``workdir`` and run the whole DAG there."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    run = Run(workdir, config)
    run.snakemake()
    return run


@pytest.fixture(scope="session")
def dag_run(tmp_path_factory) -> Run:
    return run_dag(tmp_path_factory.mktemp("dag"), reduced_config())


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Run:
    """The tiny study run once, uninterrupted, locally: the reference other executions match."""
    return run_dag(tmp_path_factory.mktemp("tiny"), tiny_config())
