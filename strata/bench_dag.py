"""DAG overhead on the paper grid (``configs/paper.yaml``): how long Snakemake takes to plan it.

Parse time reads each pretrained checkpoint's architecture (a hub model's ``config.json`` in
the Hugging Face cache, an ECAPA state-dict file's existence), so the grid is planned against
stand-ins: a throwaway HF cache holding only each hub model's ``config.json`` at its configured
revision, and empty files at the ECAPA paths (an extra config file points the models there;
Snakemake merges it key by key). No audio and no weights are needed.

Two timings, each a fresh ``snakemake`` process (Python start and the Snakefile's imports
included), against a 5 s goal:

- **dry run**: ``snakemake -n`` in an empty working directory (every job planned);
- **up-to-date no-op**: the same grid with every job's outputs present, created empty in DAG
  order with increasing mtimes (no job ran, so Snakemake holds no metadata for them), then
  ``snakemake -n`` and ``snakemake --cores 1``, which find nothing to do.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
PAPER = ROOT / "configs" / "paper.yaml"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
GOAL_S = 5.0

# Hub id → (model_type, transformer layers), as each checkpoint's config.json says; the rest
# of the architecture keeps transformers' defaults, as in those files (50 Hz CNN).
HUB_MODELS: dict[str, tuple[str, int]] = {
    "microsoft/wavlm-base": ("wavlm", 12),
    "microsoft/wavlm-base-plus": ("wavlm", 12),
    "microsoft/wavlm-large": ("wavlm", 24),
    "facebook/hubert-base-ls960": ("hubert", 12),
    "facebook/hubert-large-ll60k": ("hubert", 24),
}
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Standins:
    """What a parse of the grid needs: the environment (HF cache) and the extra config file."""

    env: dict[str, str]
    override: Path
    paths: dict[str, str]  # model → stand-in checkpoint path


def load_paper(path: Path = PAPER) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


def make_standins(root: Path, config: Mapping[str, Any]) -> Standins:
    """A Hugging Face cache for ``config``'s hub models and empty files for its speaker
    models' state-dict paths, under ``root``."""
    cache = Path(root) / "hf-cache"
    paths: dict[str, str] = {}
    for name, model in config["models"].items():
        if model["init"] != "pretrained":
            continue
        if model["family"] == "hf_transformers":
            _cache_entry(cache, model["path"], model.get("revision", "main"))
        elif model["family"] in ("speechbrain_ecapa", "wespeaker_ecapa") and "frontend" in model:
            # A state-dict file (its architecture is declared): only its existence is read.
            path = Path(root) / "ckpt" / name / Path(model["path"]).name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
            paths[name] = str(path)
        else:
            raise ValueError(f"models.{name}: no stand-in for this checkpoint layout")
    override = Path(root) / "standins.yaml"
    override.write_text(yaml.safe_dump({"models": {m: {"path": p} for m, p in paths.items()}}))
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    return Standins(env, override, paths)


def _cache_entry(cache: Path, hub_id: str, revision: str) -> None:
    """``config.json`` in the HF cache layout: snapshots/<commit>/, refs/<branch> → commit."""
    if hub_id not in HUB_MODELS:
        raise ValueError(f"{hub_id}: unknown architecture; add it to HUB_MODELS")
    model_type, layers = HUB_MODELS[hub_id]
    repo = cache / f"models--{hub_id.replace('/', '--')}"
    commit = revision if _COMMIT.match(revision) else "0" * 40
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    config = {"model_type": model_type, "num_hidden_layers": layers}
    (snapshot / "config.json").write_text(json.dumps(config))
    if commit != revision:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / revision).write_text(commit)


def snakemake(workdir: Path, standins: Standins, config: Path, *args: str):
    """One snakemake process on the repo's Snakefile in ``workdir``; (seconds, process)."""
    cmd = [
        str(SNAKEMAKE),
        *("--snakefile", str(ROOT / "Snakefile")),
        *args,
        *("--configfile", str(config), str(standins.override)),
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, env=standins.env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds, proc


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


def fake_outputs(workdir: Path, jobs: list[tuple[str, list[str]]], order: list[str]) -> int:
    """Create every job's outputs, empty (directories for ``directory()`` outputs, which have
    no dot in their last part here), each rule's a second newer than the rules before it in
    ``order``; returns the number of paths made."""
    stage = {rule: i for i, rule in enumerate(order)}
    base = time.time() - len(order) - 10
    made = 0
    for rule, outputs in jobs:
        for output in outputs:
            path = workdir / output
            if "." in path.name:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"")
            else:
                path.mkdir(parents=True, exist_ok=True)
            stamp = base + stage[rule]
            os.utime(path, (stamp, stamp))
            made += 1
    return made


# Rules in dependency order (a rule's inputs come from rules before it).
RULE_ORDER = [
    "prepare_dataset",
    "prepare_model",
    "extract_features",
    "train_probe",
    "train_weighted_probe",
    "layer_similarity",
    "summarise_probes",
    "report",
]


def measure(config_path: Path = PAPER, repeats: int = 3) -> dict[str, Any]:
    """Best-of-``repeats`` seconds of the dry run and of the up-to-date no-op, job counts."""
    config = load_paper(config_path)
    with tempfile.TemporaryDirectory(prefix="strata-bench-dag-") as tmp:
        standins = make_standins(Path(tmp), config)
        fresh, done = Path(tmp) / "fresh", Path(tmp) / "done"
        fresh.mkdir(), done.mkdir()
        dry = [snakemake(fresh, standins, config_path, "-n") for _ in range(repeats)]
        stdout = dry[0][1].stdout
        jobs = job_counts(stdout)
        unknown = set(jobs) - set(RULE_ORDER) - {"all", "total"}
        if unknown:
            raise RuntimeError(f"rules missing from RULE_ORDER: {sorted(unknown)}")
        made = fake_outputs(done, planned_outputs(stdout), RULE_ORDER)
        noop_dry = [snakemake(done, standins, config_path, "-n") for _ in range(repeats)]
        noop_run = [snakemake(done, standins, config_path, "--cores", "1") for _ in range(repeats)]
        left = job_counts(noop_dry[0][1].stdout)
    return {
        "jobs": jobs,
        "dry_run_s": min(s for s, _ in dry),
        "outputs_faked": made,
        "noop_dry_run_s": min(s for s, _ in noop_dry),
        "noop_run_s": min(s for s, _ in noop_run),
        "noop_jobs_left": left.get("total", 0),
        "repeats": repeats,
    }
