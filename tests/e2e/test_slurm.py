"""The workflow on a real single-node SLURM cluster, through ``--profile profiles/slurm``.

The cluster (munge, slurmctld, slurmd) runs from a temp folder for this module and is stopped
by PID afterwards (:mod:`strata.benchmarks.cluster`). A probe group shares one allocation; a job
cancelled mid-run is retried; a job that keeps failing is reported with its SLURM log.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml
from artifacts import assert_same_results, jobs_named, metadata, results
from conftest import ROOT, snakemake_argv, tiny_config

from strata.benchmarks import cluster as slurm_cluster
from strata.probes.kinds import TASK_KINDS

FRAME_KINDS = {k for k, kind in TASK_KINDS.items() if kind.frames}
FRAME_PROBE_RULES = ("train_frame_probes", "train_frame_probe", "train_frame_weighted_probe")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(bool(slurm_cluster.unavailable()), reason=str(slurm_cluster.unavailable())),
]


def test_the_cluster_stops_by_pid():
    """(First: before the module's cluster starts.) Every daemon started is gone after the
    block, and the client config link with it."""
    with slurm_cluster.cluster() as running:
        procs = list(running.procs)
        assert [p.args[0] for p in procs] == ["munged", "slurmctld", "slurmd"]
        assert slurm_cluster.CLIENT_CONF.resolve() == running.root / "slurm.conf"
    assert all(p.poll() is not None for p in procs)
    assert not slurm_cluster.CLIENT_CONF.exists()
    assert not running.root.exists()


@pytest.fixture(scope="module")
def cluster():
    with slurm_cluster.cluster() as running:
        yield running


def submit(cluster, workdir: Path, *targets: str) -> subprocess.Popen:
    """``snakemake --profile profiles/slurm`` in ``workdir``, its output in ``run.log``."""
    cmd = snakemake_argv(*targets, "--profile", str(ROOT / "profiles/slurm"))
    log = open(workdir / "run.log", "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(cmd, cwd=workdir, env=cluster.env, stdout=log, stderr=subprocess.STDOUT)


def cancel_first(cluster, rule: str, stop: threading.Event) -> list[str]:
    """scancel the first running job of ``rule`` (in a thread); the id goes in the list."""
    cancelled: list[str] = []

    def watch():
        while not stop.is_set():
            for job in cluster.jobs():
                if job["comment"].startswith(f"rule_{rule}") and job["state"] == "RUNNING":
                    time.sleep(2)  # well into the job
                    cluster.run("scancel", job["id"])
                    cancelled.append(job["id"])
                    return
            time.sleep(0.3)

    threading.Thread(target=watch, daemon=True).start()
    return cancelled


def benchmarks(workdir: Path, rule: str) -> list[Path]:
    """A finished run's ``benchmark:`` files of ``rule``: one per job."""
    return sorted((workdir / "benchmarks" / rule).rglob("*.tsv"))


def provenance_of(workdir: Path) -> dict[Path, dict]:
    """Each strata artifact's provenance (a model's own checkpoint files are not strata's)."""
    return {
        p: metadata(workdir / p)
        for p in results(workdir)
        if p.suffix in (".parquet", ".json") and "checkpoint" not in p.parts
    }


def test_the_study_runs_on_slurm_and_matches_a_local_run(cluster, tiny_run, tmp_path):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(tiny_config()))
    stop = threading.Event()
    cancelled = cancel_first(cluster, "extract_features", stop)
    proc = submit(cluster, tmp_path)
    try:
        code = proc.wait(timeout=900)
    finally:
        stop.set()
        proc.kill()
    out = (tmp_path / "run.log").read_text()
    assert code == 0, out[-4000:]
    # Same data as the uninterrupted local run, bit for bit.
    assert_same_results(tiny_run.workdir, tmp_path)
    # The cancelled extraction was submitted again: each model's shards come from one job,
    # none from the cancelled one.
    assert len(cancelled) == 1 and "Trying to restart job" in out
    prov = provenance_of(tmp_path)
    shard_jobs: dict[str, set[str]] = {}
    for p in prov:
        if p.parts[1] == "features":
            shard_jobs.setdefault(p.parts[2], set()).add(jobs_named(prov[p])[0])
    assert set(shard_jobs) == set(tiny_run.config["models"])
    assert all(len(jobs) == 1 for jobs in shard_jobs.values())
    assert not set(cancelled) & set.union(*shard_jobs.values())
    # Every job ran in a SLURM allocation, but the aggregates (summaries, report) locally.
    remote = {p: jobs_named(prov[p]) for p in prov if p.parts[1] != "report"}
    summaries = {p for p in remote if p.parts[2] == "summary"}
    assert all(not remote[p] for p in summaries)
    assert all(remote[p] for p in remote.keys() - summaries), "an artifact lacks its job id"
    # One allocation ran all the utterance-level probe jobs (group-components); the
    # frame-level (CTC) probe jobs and the other stages one each.
    frames = {t for t, task in tiny_run.config["tasks"].items() if task["kind"] in FRAME_KINDS}
    metrics = [p for p in remote if p.name == "metrics.json"]
    grouped = {remote[p][0] for p in metrics if p.parts[4] not in frames}
    assert len(grouped) == 1
    alone = {remote[p][0] for p in metrics if p.parts[4] in frames}
    frame_jobs = [f for rule in FRAME_PROBE_RULES for f in benchmarks(tiny_run.workdir, rule)]
    assert frame_jobs and len(alone) == len(frame_jobs) and not alone & grouped
    submitted = set(re.findall(r"submitted with SLURM jobid (\d+)", out))
    own = {remote[p][0] for p in remote.keys() - summaries}
    assert own | set(cancelled) == submitted


def test_a_failing_job_is_retried_then_reported_with_its_log(cluster, tiny_run, tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    good = next((tiny_run.workdir / "results/data/embedded/audio").iterdir())
    (audio / good.name).write_bytes(good.read_bytes())
    (audio / "broken.wav").write_bytes(b"RIFF but not really a wave file")
    (tmp_path / "mine.csv").write_text(
        f"utt_id,path,split,speaker\nok,{good.name},train,a\nbad,broken.wav,train,b\n"
    )
    config = tiny_config()
    config["datasets"]["mine"] = {"kind": "manifest", "path": "mine.csv", "audio_root": str(audio)}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = submit(cluster, tmp_path, "results/data/mine")
    try:
        assert proc.wait(timeout=600) != 0
    finally:
        proc.kill()
    out = (tmp_path / "run.log").read_text()
    assert out.count("Trying to restart job") == 1  # retries: 1
    logs = re.findall(r"(\S+/slurm_logs/rule_prepare_dataset/mine/(\d+)\.log)", out)
    assert len({job for _, job in logs}) == 2  # both attempts, each with its log named
    last = Path(logs[-1][0])
    assert last.is_relative_to(tmp_path / ".snakemake/slurm_logs")
    text = last.read_text()  # kept: the job failed
    assert "1 unusable audio files: bad (" in text and "broken.wav" in text
    assert not (tmp_path / "results/data/mine").exists()
