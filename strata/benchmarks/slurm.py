"""Probe jobs on SLURM, grouped (profiles/slurm) against one allocation per job (make bench).

On the private single-node cluster of :mod:`strata.benchmarks.cluster`, configs/smoke.yaml is run
through ``--profile profiles/slurm`` up to its features; then its utterance-level probe jobs (the
rules the profile groups) are forced to run again twice, with ``group-components`` as the
profile sets it and with ``probes=1`` (each job in its own allocation, as without grouping).
Each run's wall time per probe job is set beside the jobs' own work (their ``benchmark:``
files).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from strata.benchmarks import cluster as slurm_cluster

ROOT = Path(__file__).resolve().parents[2]
PROBE_RULES = ("train_probes", "train_probe", "train_weighted_probe")  # the grouped ones


def snakemake(cluster, workdir: Path, *args: str) -> tuple[float, str]:
    """Run through profiles/slurm in ``workdir``; (wall seconds, output)."""
    cmd = [
        str(Path(sys.executable).parent / "snakemake"), *args,
        "--snakefile", str(ROOT / "Snakefile"), "--profile", str(ROOT / "profiles" / "slurm"),
        "--configfile", str(ROOT / "configs" / "smoke.yaml"),
    ]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, env=cluster.env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"snakemake failed in {workdir}:\n{proc.stderr[-3000:]}")
    return wall, proc.stdout + proc.stderr


def job_work(workdir: Path) -> list[float]:
    """Each probe job's own wall seconds (its last ``benchmark:`` line)."""
    files = [f for rule in PROBE_RULES for f in (workdir / "benchmarks" / rule).rglob("*.tsv")]
    return [float(pd.read_csv(f, sep="\t").iloc[-1]["s"]) for f in files]


def allocation_seconds(cluster, job_ids: set[str]) -> tuple[float, float]:
    """(run seconds, CPU-seconds) the allocations held, from ``scontrol show job`` (the test
    cluster keeps finished jobs for MinJobAge; it has no accounting)."""
    run = cpu = 0.0
    for job in job_ids:
        fields = dict(
            item.split("=", 1)
            for item in cluster.run("scontrol", "-o", "show", "job", job).split()
            if "=" in item
        )
        h, m, sec = (int(x) for x in fields["RunTime"].split("-")[-1].split(":"))
        seconds = 3600 * h + 60 * m + sec
        run += seconds
        cpu += seconds * int(fields["NumCPUs"])
    return run, cpu


def probe_runs(workdir: Path) -> pd.DataFrame:
    """One row per grouping: probe jobs, allocations, wall, work and overhead per job."""
    rows = []
    with slurm_cluster.cluster() as cluster:
        snakemake(cluster, workdir, "--until", "extract_features")
        for label, groups in [
            ("one allocation per job", "probes=1"),
            ("grouped (profiles/slurm)", None),
        ]:
            extra = ["--group-components", groups] if groups else []
            wall, out = snakemake(
                cluster, workdir, "--forcerun", *PROBE_RULES, "--until", *PROBE_RULES, *extra
            )
            work = job_work(workdir)
            allocations = set(re.findall(r"submitted with SLURM jobid (\d+)", out))
            held, cpu = allocation_seconds(cluster, allocations)
            rows.append(
                {
                    "probe jobs": len(work),
                    "grouping": label,
                    "allocations": len(allocations),
                    "wall_s": wall,
                    "allocated s per job": held / len(work),
                    "allocated CPU-s per job": cpu / len(work),
                    "work per job s": sum(work) / len(work),
                }
            )
    return pd.DataFrame(rows).set_index("grouping").round(2)


def slurm_section(stamp: str) -> list[str]:
    if reason := slurm_cluster.unavailable():
        return ["## Probe jobs on SLURM: grouping", "", f"_{stamp}._ Not measured: {reason}.", ""]
    with tempfile.TemporaryDirectory(prefix="strata-bench-slurm-") as tmp:
        table = probe_runs(Path(tmp))
    ratio = table["allocated CPU-s per job"].iloc[0] / table["allocated CPU-s per job"].iloc[1]
    return [
        "## Probe jobs on SLURM: grouping",
        "",
        f"_{stamp}._ The smoke study's utterance-level probe jobs ({', '.join(PROBE_RULES)}: "
        "the rules the profile groups) re-run on the test cluster (one node, this "
        "machine) through `profiles/slurm`, first each in its own allocation "
        "(`--group-components probes=1`), then grouped as the profile sets it. Wall is the "
        "whole `snakemake` call (submission, status checks, one Snakemake start per "
        "allocation); allocated seconds are the allocations' run times (`scontrol show job`), "
        "and CPU-seconds those times their CPUs, per probe job; work is the jobs' own "
        "`benchmark:` seconds (Python start and imports included; ungrouped, 8 jobs share the "
        f"2 real cores). Grouped, a probe job holds **{ratio:.1f}x** fewer CPU-seconds of "
        "allocation. On this idle one-node cluster the wall time is set by the plugin's status "
        "polling (5 s, then 10 s more each time nothing finished), not by queueing; on a busy "
        "cluster each allocation also waits in the queue, which grouping saves too.",
        "",
        table.to_markdown(),
        "",
    ]
