"""A finished run survives being moved: nothing Snakemake records of a job (inputs, outputs,
logs) names the folder it ran in, so the moved run, or a clone of the project with the run's
files placed in it, plans nothing again."""

from __future__ import annotations

import re
import shutil
import subprocess

from conftest import ROOT, SNAKEMAKE, Run

# What a finished run is: its results, Snakemake's records of them, its logs and config.
RUN_FILES = ("results", ".snakemake", "logs", "benchmarks", "config.yaml")
PATH_FIELDS = ("input:", "output:", "log:", "benchmark:")


def test_a_finished_run_moved_elsewhere_plans_nothing(tiny_run, tmp_path):
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in RUN_FILES:
        source = tiny_run.workdir / name
        if source.is_dir():
            shutil.copytree(source, moved / name, symlinks=True)
        elif source.exists():
            shutil.copy2(source, moved / name)
    dry = Run(moved, tiny_run.config).snakemake("-n")
    assert "Nothing to be done" in dry.stdout, dry.stdout[-3000:]


def test_a_clone_of_the_project_records_no_path_under_itself(tmp_path):
    """The default study planned in a copy of the repository (its tracked files, shipped
    checkpoints included): every path a job records is relative, so another clone of the same
    commit given this run's files finds them unchanged."""
    clone = tmp_path / "clone"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    dry = subprocess.run(
        [str(SNAKEMAKE), "-n", "--cores", "2"], cwd=clone, capture_output=True, text=True
    )
    assert dry.returncode == 0, dry.stdout[-2000:] + dry.stderr[-2000:]
    recorded = [
        path
        for line in dry.stdout.splitlines()
        if line.strip().startswith(PATH_FIELDS)
        for path in re.split(r",\s*", line.split(":", 1)[1].strip())
    ]
    assert any(p.startswith("checkpoints/") for p in recorded)  # the shipped ones, relative
    assert len(recorded) > 300
    absolute = [p for p in recorded if p.startswith("/")]
    assert not absolute, absolute[:5]
