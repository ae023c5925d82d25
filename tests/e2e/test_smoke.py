"""configs/smoke.yaml runs every rule of the workflow (a dry run), so that a cluster check with it
exercises every rule, profiles/slurm's GPU-routed ones included."""

from __future__ import annotations

import yaml
from conftest import ROOT, Run, tiny_config

from strata.benchmarks.bench import workflow_rules


def gpu_rules() -> set[str]:
    """The rules profiles/slurm sends to its GPU partition or asks a GPU for."""
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    return {
        rule
        for rule, resources in profile["set-resources"].items()
        if "gpu" in resources or resources.get("slurm_partition") == "gpu"
    }


def test_the_profiles_gpu_rules_are_read():
    assert {"train_model", "extract_features", "train_frame_probe"} <= gpu_rules()
    assert gpu_rules() <= workflow_rules()


def test_the_smoke_study_plans_every_rule(tmp_path):
    """Both forms of the probe rules included (probe.jobs: layer, and model for two tasks):
    none is left to another config."""
    config = tiny_config()
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    planned = Run(tmp_path, config).planned_jobs()
    assert set(planned) == workflow_rules()
    assert gpu_rules() <= set(planned)
