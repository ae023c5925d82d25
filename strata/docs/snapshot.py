"""Keep what the docs cite from a finished run, small and committed: ``docs/runs/default/``."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from strata.benchmarks.bench import summarise_benchmarks
from strata.io import write_json

# The report's figure the README shows: phone error rate per layer, every model.
FIGURE = "probe_phones.png"
# Digests of the docs' Python examples that ran in the snapshot's run (strata.docs.examples).
EXAMPLES = "examples.json"


def log_facts(log: Path) -> dict:
    """Date, cores, jobs and wall seconds of a finished Snakemake run, from its log."""
    text = log.read_text()
    elapsed = re.search(r"^Elapsed time: (\d+):(\d+):([\d.]+)$", text, re.M)
    done = re.search(r"^(\d+) of (\d+) steps \(100%\) done$", text, re.M)
    if elapsed is None or done is None:
        raise ValueError(f"{log}: not the log of a finished run (no 'Elapsed time', no 100%)")
    hours, minutes, seconds = (float(g) for g in elapsed.groups())
    return {
        "date": re.search(r"^\s*Date: (\S+)", text, re.M)[1],
        "cores": int(re.search(r"^Provided cores: (\d+)$", text, re.M)[1]),
        "jobs": int(done[2]),
        "wall_seconds": round(hours * 3600 + minutes * 60 + seconds, 1),
    }


def code_version(workdir: Path) -> str:
    """The code version the run's report recorded (``<version>+<commit>[-dirty]``)."""
    card = next(iter(sorted((workdir / "results" / "models").glob("*/card.json"))))
    return json.loads(card.read_text())["provenance"]["code_version"]


def run_facts(workdir: Path) -> dict:
    """The facts of the last finished run in ``workdir``; a dirty tree's run is refused."""
    logs = sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"))
    finished = [log for log in logs if "steps (100%) done" in log.read_text()]
    if not finished:
        raise ValueError(f"{workdir}: no finished Snakemake run in .snakemake/log")
    facts = {**log_facts(finished[-1]), "code_version": code_version(workdir)}
    if facts["code_version"].endswith("-dirty"):
        raise ValueError(f"{workdir}: the run was made from a dirty tree ({facts['code_version']})")
    return facts


def take_snapshot(workdir: Path, dest: Path) -> dict:
    """Copy a finished default run's tables, figure and facts from ``workdir`` into ``dest``."""
    facts = run_facts(workdir)
    report, summary = workdir / "results" / "report", workdir / "results" / "probes" / "summary"
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "probes").mkdir(parents=True)
    for name in ("best_layers.csv", "verdicts.csv"):
        shutil.copy(report / name, dest / name)
    for table in sorted(summary.glob("*/*.csv")):
        shutil.copy(table, dest / "probes" / table.name)
    shutil.copy(report / "figures" / FIGURE, dest / FIGURE)
    rules = summarise_benchmarks(workdir / "benchmarks")
    rules.to_csv(dest / "rules.csv", index=False)
    write_json(dest / "run.json", facts)
    return facts


# What docs/dynamics.md cites from a finished run of configs/dynamics.yaml.
DYNAMICS_TABLES = ("dynamics.csv", "dynamics_similarity.csv", "dynamics_claims.csv")


def take_dynamics_snapshot(workdir: Path, dest: Path) -> dict:
    """Copy a finished series run's trajectory and claim tables and facts into ``dest``."""
    facts = run_facts(workdir)
    report = workdir / "results" / "report"
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in DYNAMICS_TABLES:
        shutil.copy(report / name, dest / name)
    write_json(dest / "run.json", facts)
    return facts
