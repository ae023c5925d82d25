"""DAG overhead on the paper grid (``configs/paper.yaml``): how long Snakemake takes to plan it.

Parse time reads each pretrained checkpoint's architecture (a hub model's ``config.json`` in
the Hugging Face cache, an ECAPA state-dict file's existence), so the grid is planned against
stand-ins: a throwaway HF cache holding only each hub model's ``config.json`` at its configured
revision, and empty files at the ECAPA paths (an extra config file points the models there;
Snakemake merges it key by key). No audio and no weights are needed.

Two timings, each a fresh ``snakemake`` process (Python start and the Snakefile's imports
included), against a 5 s goal:

- **dry run**: ``snakemake -n`` in an empty working directory (every job planned);
- **up-to-date no-op**: the same grid with every job's outputs present (created empty, then
  ``snakemake --touch -F``, which touches them in DAG order and records each job's metadata as
  a finished run would), then ``snakemake -n`` and ``snakemake --cores 1``, which find nothing
  to do after checking every output's mtime and rerun triggers. Cheaper than finishing a real
  run (the default one takes ~20 min) and on the grid the goal is about.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from strata.models.hf import KNOWN_HUB_CONFIGS

ROOT = Path(__file__).resolve().parents[2]
PAPER = ROOT / "configs" / "paper.yaml"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
GOAL_S = 5.0

# Stand-in config.json files hold strata's table of the known hub checkpoints (model type,
# layers, width); the rest keeps transformers' defaults, as those files do (50 Hz CNN).
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Standins:
    """What a parse of the grid needs: the environment (HF cache) and the extra config file."""

    env: dict[str, str]
    override: Path
    paths: dict[str, str]  # model → stand-in checkpoint path


def load_paper(path: Path = PAPER) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


def make_standins(
    root: Path, config: Mapping[str, Any], extra: Mapping[str, Any] | None = None
) -> Standins:
    """A Hugging Face cache for ``config``'s hub models and empty files for its speaker
    models' state-dict paths, under ``root``; ``extra`` adds top-level blocks to the override
    config (merged key by key over ``config``, as Snakemake merges config files)."""
    cache = Path(root) / "hf-cache"
    paths: dict[str, str] = {}
    for name, model in config["models"].items():
        if model["init"] != "pretrained":
            continue
        if model["family"] == "hf_transformers":
            _cache_entry(cache, model["path"], model.get("revision", "main"))
        elif model["family"] == "speechbrain_ecapa" and "frontend" in model:
            # A state-dict file (its architecture is declared): only its existence is read.
            path = Path(root) / "ckpt" / name / Path(model["path"]).name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
            paths[name] = str(path)
        else:
            raise ValueError(f"models.{name}: no stand-in for this checkpoint layout")
    override = Path(root) / "standins.yaml"
    blocks: dict[str, Any] = {"models": {m: {"path": p} for m, p in paths.items()}}
    for key, value in (extra or {}).items():
        blocks[key] = {**blocks.get(key, {}), **value}
    override.write_text(yaml.safe_dump(blocks))
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    return Standins(env, override, paths)


def _cache_entry(cache: Path, hub_id: str, revision: str) -> None:
    """``config.json`` in the HF cache layout: snapshots/<commit>/, refs/<branch> → commit."""
    if hub_id not in KNOWN_HUB_CONFIGS:
        raise ValueError(f"{hub_id}: unknown architecture; add it to KNOWN_HUB_CONFIGS")
    repo = cache / f"models--{hub_id.replace('/', '--')}"
    commit = revision if _COMMIT.match(revision) else "0" * 40
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    (snapshot / "config.json").write_text(json.dumps(KNOWN_HUB_CONFIGS[hub_id]))
    if commit != revision:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / revision).write_text(commit)


@dataclass(frozen=True)
class Timing:
    wall_s: float
    cpu_s: float  # user + system of the process: what a busy machine does not inflate


def snakemake(workdir: Path, standins: Standins, config: Path, *args: str):
    """One snakemake process on the repo's Snakefile in ``workdir``; (Timing, process)."""
    cmd = [
        str(SNAKEMAKE),
        *("--snakefile", str(ROOT / "Snakefile")),
        *args,
        *("--configfile", str(config), str(standins.override)),
    ]
    before, start = _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, env=standins.env, capture_output=True, text=True)
    timing = Timing(time.perf_counter() - start, _children_cpu() - before)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return timing, proc


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def job_counts(stdout: str) -> dict[str, int]:
    """Rule → jobs from a dry run's "Job stats" table (empty when nothing is to be done)."""
    if "Job stats:" not in stdout:
        return {}
    table = stdout.split("Job stats:")[1].split("\n\n")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def planned_outputs(stdout: str) -> list[tuple[str, list[str]]]:
    """(rule, outputs) of every job a dry run prints, in the order it prints them."""
    jobs = []
    for block in re.split(r"\n(?=\s*(?:local)?rule \w+:)", stdout):
        head = re.match(r"\s*(?:local)?rule (\w+):", block)  # indented inside group jobs
        outputs = re.search(r"^\s+output: (.+)$", block, re.M)
        if head and outputs:
            jobs.append((head[1], [p.strip() for p in outputs[1].split(",")]))
    return jobs


def fake_outputs(workdir: Path, jobs: list[tuple[str, list[str]]]) -> int:
    """Create every job's outputs, empty: directories for ``directory()`` outputs (no dot in
    their last part in this workflow), files for the rest; returns the number of paths."""
    made = 0
    for _, outputs in jobs:
        for output in outputs:
            path = workdir / output
            if "." in path.name:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"")
            else:
                path.mkdir(parents=True, exist_ok=True)
            made += 1
    return made


def measure(config_path: Path = PAPER, repeats: int = 3) -> dict[str, Any]:
    """Job counts, and the best of ``repeats`` timings (wall and CPU seconds) of the dry run
    and of the up-to-date no-op."""
    config = load_paper(config_path)
    with tempfile.TemporaryDirectory(prefix="strata-bench-dag-") as tmp:
        standins = make_standins(Path(tmp), config)
        fresh, done = Path(tmp) / "fresh", Path(tmp) / "done"
        fresh.mkdir(), done.mkdir()

        def best(workdir: Path, *args: str) -> tuple[Timing, str]:
            runs = [snakemake(workdir, standins, config_path, *args) for _ in range(repeats)]
            wall = min(t.wall_s for t, _ in runs)
            return Timing(wall, min(t.cpu_s for t, _ in runs)), runs[0][1].stdout

        dry, stdout = best(fresh, "-n")
        jobs = job_counts(stdout)
        made = fake_outputs(done, planned_outputs(stdout))
        # Snakemake's own "pretend it ran": outputs touched in DAG order, metadata recorded
        # (params, code, input), so the no-op checks every rerun trigger as after a real run.
        touch, _ = snakemake(done, standins, config_path, "--touch", "-F", "--cores", "all")
        noop_dry, out_dry = best(done, "-n")
        noop_run, out_run = best(done, "--cores", "1")
        metadata = sum(1 for _ in (done / ".snakemake" / "metadata").iterdir())
    return {
        "jobs": jobs,
        "timings": {"dry run": dry, "no-op -n": noop_dry, "no-op --cores 1": noop_run},
        "outputs": made,
        "metadata_records": metadata,
        "touch_s": touch.wall_s,
        "noop_jobs_left": (job_counts(out_dry) | job_counts(out_run)).get("total", 0),
        "repeats": repeats,
    }
