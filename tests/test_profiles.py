"""Each named profile is effective as written.

Snakemake adds the workflow profile ``profiles/default`` to every run and lets it win key by key
over ``--profile``; so it must set no key a named profile sets. The effective settings come from
Snakemake's own argument resolution (``snakemake.cli.parse_args``), run from the checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from snakemake.cli import parse_args

ROOT = Path(__file__).resolve().parents[1]
PROFILES = sorted(p.parent.name for p in (ROOT / "profiles").glob("*/config.yaml"))
NAMED = [p for p in PROFILES if p != "default"]


def keys(profile: str) -> set[str]:
    return set(yaml.safe_load((ROOT / "profiles" / profile / "config.yaml").read_text()))


def effective(*argv: str) -> dict:
    """Every setting Snakemake resolves for ``argv`` in the checkout, as comparable text."""
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        _, args = parse_args([*argv, "--dry-run"])
    finally:
        os.chdir(cwd)
    return {name: repr(value) for name, value in vars(args).items()}


def test_there_is_a_workstation_and_a_slurm_profile():
    assert {"workstation", "slurm"} <= set(NAMED)


@pytest.mark.parametrize("profile", NAMED)
def test_the_workflow_profile_sets_no_key_of_a_named_profile(profile):
    assert not keys("default") & keys(profile)


@pytest.mark.parametrize("profile", NAMED)
def test_the_workflow_profile_changes_nothing_a_named_profile_sets(profile):
    alone = effective("--profile", f"profiles/{profile}", "--workflow-profile", "none")
    layered = effective("--profile", f"profiles/{profile}")
    for key in keys(profile):
        name = key.replace("-", "_")
        assert layered[name] == alone[name], key


def test_slurm_settings_are_the_slurm_profiles():
    _, args = parse_args(["-s", str(ROOT / "Snakefile"), "--profile", str(ROOT / "profiles/slurm")])
    written = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    assert args.executor == written["executor"] == "slurm"
    assert args.latency_wait == written["latency-wait"]
    assert args.jobs == written["jobs"]
    assert args.keep_going is written["keep-going"]
    assert args.slurm_status_command == written["slurm-status-command"]
    # The cluster's memory limit (per group job), not the workstation's cap.
    limits = dict(item.split("=") for item in written["resources"])
    assert args.resources == {name: int(value) for name, value in limits.items()}
    assert args.retries == written["retries"] >= 1
    groups = dict(item.split("=") for item in written["group-components"])
    assert args.group_components == {name: int(n) for name, n in groups.items()}
    assert args.set_resources["extract_features"]["gpu"].value == 1
    # memory comes from the rules (sized from the data), not a fixed figure here
    assert "mem_mb" not in written["set-resources"]["extract_features"]
    # Rules that compute on a GPU go where extraction goes, one GPU each.
    per_rule = written["set-resources"]
    on_gpu = {"train_frame_probes", "train_frame_probe", "train_frame_weighted_probe"}
    on_gpu.add("train_model")
    for rule in on_gpu | {"layer_similarity"}:
        assert per_rule[rule]["slurm_partition"] == per_rule["extract_features"]["slurm_partition"]
    for rule in on_gpu:
        assert args.set_resources[rule]["gpu"].value == 1, rule
    # similarity asks for a GPU job by job, where its measure uses one (tests/test_snakefile.py)
    assert "gpu" not in per_rule["layer_similarity"]
    # and the grouped (utterance-level) probes stay on the default partition
    assert not {"train_probes", "train_probe", "train_weighted_probe"} & set(args.set_resources)


def test_a_bare_snakemake_gets_cores_from_the_workflow_profile():
    _, args = parse_args(["-s", str(ROOT / "Snakefile")])
    assert args.cores == os.cpu_count()
