"""The plan: the paper grid's cost with nothing fetched, the same jobs Snakemake plans, and a
ceiling that stops the DAG naming the job and its figure."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from strata.benchmarks.dag import job_counts
from strata.config import ConfigError
from strata.models import layer_specs
from strata.models.hf import KNOWN_HUB_CONFIGS
from strata.plan.jobs import CeilingError, Planner

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
PAPER = ROOT / "configs" / "paper.yaml"


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """An empty Hugging Face cache, offline: nothing fetched."""
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return {**os.environ}


def dry_run(configfile: Path, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    """``snakemake -n`` of the repo's Snakefile on ``configfile`` alone."""
    cmd = [str(SNAKEMAKE), "-n", "-s", str(ROOT / "Snakefile"), "--configfile", str(configfile)]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)


def test_the_paper_grid_plans_with_nothing_fetched(tmp_path, empty_hub):
    """No checkpoint, no corpus: the plan prints its cost, and Snakemake's dry run plans the
    very jobs the planner counts."""
    plan = subprocess.run(
        [sys.executable, "-m", "strata.plan", "--configfile", str(PAPER), "--directory", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=empty_hub,
    )
    assert plan.returncode == 0, plan.stderr
    assert "libri" in plan.stdout and "table" in plan.stdout
    dry = dry_run(PAPER, tmp_path, empty_hub)
    assert dry.returncode == 0, dry.stdout[-2000:] + dry.stderr[-2000:]
    counts = job_counts(dry.stdout)
    config = yaml.safe_load(PAPER.read_text())
    planned: dict[str, int] = {}
    for rule, _, estimate in Planner(config, tmp_path).jobs():
        planned[rule] = planned.get(rule, 0) + 1
        assert estimate is not None, rule  # every corpus is in the table
    assert planned == {rule: counts[rule] for rule in planned}
    for rule, n in planned.items():  # the summary's table states each rule's job count
        assert any(line.split()[:2] == [rule, str(n)] for line in plan.stdout.splitlines())


def test_planned_widths_are_the_checkpoints(empty_hub):
    """Large models: 25 hidden states of 1024 dims; base ones 13 of 768, at 50 frames/s."""
    config = yaml.safe_load(PAPER.read_text())
    for name, model in config["models"].items():
        if model["family"] != "hf_transformers":
            continue
        specs = layer_specs(model)
        large = "large" in model["path"]
        assert len(specs) == (25 if large else 13), name
        assert {(s.dim, s.frame_rate) for s in specs} == {(1024 if large else 768, 50.0)}, name


def test_a_fetched_checkpoint_that_disagrees_with_the_table_is_named(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    snapshot = cache / "models--microsoft--wavlm-large" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("a" * 40)
    config = {**KNOWN_HUB_CONFIGS["microsoft/wavlm-large"], "hidden_size": 768}
    (snapshot / "config.json").write_text(json.dumps(config))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = {"family": "hf_transformers", "init": "pretrained", "path": "microsoft/wavlm-large"}
    with pytest.raises(ConfigError, match="hidden_size is 768.*wavlm-large has 1024"):
        layer_specs(model)


def test_a_job_over_the_ceiling_stops_the_dry_run_naming_it(tmp_path, empty_hub):
    config = yaml.safe_load(PAPER.read_text())
    planner = Planner(config, tmp_path)
    weighted = [
        (e.mem_mb, job, e) for rule, job, e in planner.jobs() if rule == "train_weighted_probe"
    ]
    mem, job, estimate = max(weighted, key=lambda row: row[0])
    planner.limit = mem - 1
    with pytest.raises(CeilingError, match=f"train_weighted_probe {job} needs"):
        planner.check("train_weighted_probe", job, estimate)
    limited = tmp_path / "limited.yaml"
    limited.write_text(yaml.safe_dump({**config, "limits": {"mem_mb": mem - 1}}))
    dry = dry_run(limited, tmp_path, empty_hub)
    assert dry.returncode != 0
    # the first such job Snakemake meets (several need as much)
    said = f"needs ~{mem:,} MiB, over limits.mem_mb {mem - 1:,}"
    assert re.search(rf"CeilingError: train_weighted_probe \w+/\w+ {said}", dry.stdout), dry.stdout


TOY = "strata_toys.encoders:ProjectionFamily"
WIDTHLESS = '''
from strata_toys.encoders import ProjectionFamily


class Widthless(ProjectionFamily):
    """The toy family, declaring no widths: they are known once extraction has run."""

    def layer_specs(self, cfg):
        return [type(s)(s.name, s.frame_rate) for s in super().layer_specs(cfg)]
'''


def test_undeclared_widths_are_unknown_until_extraction_then_read_from_its_shards(
    tmp_path, monkeypatch
):
    from defaults import default_config

    from strata.features.shards import ShardWriter, shard_path
    from strata.plan.__main__ import summary

    (tmp_path / "widthless.py").write_text(WIDTHLESS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "extension"))
    config = default_config(seeds=False)
    toy = {"family": "widthless:Widthless", "init": "random", "seed": 0, "config": {"dim": 24}}
    config["models"] = {"toy": toy}
    config["similarity"]["pairs"] = "all"
    for dataset in config["datasets"]:  # prepared: sizes known
        (tmp_path / "results" / "data" / dataset).mkdir(parents=True)
        manifest = pd.DataFrame({"split": ["train", "dev", "test"], "duration": [2.0, 1.0, 1.0]})
        manifest.to_parquet(tmp_path / "results" / "data" / dataset / "manifest.parquet")
    planner = Planner(config, tmp_path)
    assert planner.layers("toy") is None
    assert "widths unknown until extraction" in summary(planner, planner.jobs())
    assert planner.extract("toy", "embedded") is None
    assert planner.similarity("toy", "toy", "utterance") is None
    folder = tmp_path / "results" / "features" / "toy" / "embedded"
    folder.mkdir(parents=True)
    for name in ("frames", "mixed"):  # as extraction writes them: the width in the schema
        ShardWriter(shard_path(folder, name), 24, "utterance", {"layer": name}).close()
    assert [(s.name, s.dim) for s in planner.layers("toy")] == [("frames", 24), ("mixed", 24)]
    assert planner.similarity("toy", "toy", "utterance") is not None
    declared = Planner({**config, "models": {"toy": {**toy, "family": TOY}}}, tmp_path)
    assert planner.extract("toy", "embedded") == declared.extract("toy", "embedded")


JOB_WILDCARDS = ("model", "model_a", "model_b", "task", "layer", "level", "measure")


def job_resources(dry_run_stdout: str) -> dict[tuple[str, str], dict[str, int]]:
    """(rule, job) -> mem_mb and runtime, from a dry run's job blocks; the job named as the
    planner names it (wildcard values in the rule's order)."""
    out, rule, wildcards = {}, None, {}
    for line in dry_run_stdout.splitlines():
        line = line.strip()
        if re.fullmatch(r"(local)?rule \w+:", line):
            rule, wildcards = line.split()[-1].rstrip(":"), {}
        elif line.startswith("wildcards:"):
            wildcards = dict(kv.split("=", 1) for kv in line.split(":", 1)[1].strip().split(", "))
        elif line.startswith("resources:") and rule is not None:
            given = dict(kv.split("=", 1) for kv in line.split(":", 1)[1].strip().split(", "))
            names = ("model", "dataset") if rule == "extract_features" else JOB_WILDCARDS
            order = [wildcards[name] for name in names if name in wildcards]
            out[rule, "/".join(order)] = {k: int(given[k]) for k in ("mem_mb", "runtime")}
    return out


def test_the_slurm_profile_hands_every_planned_job_its_memory_and_runtime(tmp_path, empty_hub):
    """What the scheduler gets is what the planner sized: no cap or override lowers it."""
    from strata.plan.jobs import requested

    cmd = ["--profile", str(ROOT / "profiles" / "slurm")]
    dry = subprocess.run(
        [str(SNAKEMAKE), "-n", "-s", str(ROOT / "Snakefile"), "--configfile", str(PAPER), *cmd],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=empty_hub,
    )
    assert dry.returncode == 0, dry.stdout[-2000:] + dry.stderr[-2000:]
    given = job_resources(dry.stdout)
    planned = Planner(yaml.safe_load(PAPER.read_text()), tmp_path).jobs()
    assert len(planned) > 700
    for rule, job, estimate in planned:
        assert given[rule, job] == requested(estimate), (rule, job)
    largest = max(planned, key=lambda row: row[2].mem_mb)
    assert largest[0] == "train_weighted_probe" and largest[2].mem_mb > 40_000


def test_a_cap_or_override_below_a_job_stops_the_run_naming_the_job_and_setting(
    tmp_path, empty_hub
):
    config = yaml.safe_load(PAPER.read_text())
    mem, rule = max((e.mem_mb, r) for r, _, e in Planner(config, tmp_path).jobs() if e)
    base = [str(SNAKEMAKE), "-n", "-s", str(ROOT / "Snakefile"), "--configfile", str(PAPER)]
    capped = subprocess.run(
        [*base, "--cores", "2", "--resources", f"mem_mb={mem - 1}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=empty_hub,
    )
    assert capped.returncode != 0
    # The first such job Snakemake meets (several need as much).
    said = rf"{rule} \w+/\w+ needs mem_mb={mem:,} \(MiB of memory\), but the run caps mem_mb at "
    assert re.search(said + f"{mem - 1:,}", capped.stdout), capped.stdout[-3000:]
    short = subprocess.run(
        [*base, "--cores", "2", "--set-resources", "layer_similarity:runtime=5"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=empty_hub,
    )
    assert short.returncode != 0
    assert "set-resources layer_similarity: runtime=5 lowers layer_similarity " in (
        short.stdout + short.stderr
    ), short.stdout[-3000:]
