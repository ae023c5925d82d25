"""A throwaway single-node SLURM cluster on this machine, for the tests and the bench.

Debian's munge, slurmctld and slurmd run in the foreground from a private folder (config,
state, logs, the munge socket), on free ports, so nothing outside that folder changes and a
cluster already on the machine is left alone. The node offers two fake GPUs (gres backed by
character devices) so the SLURM profile's GPU requests are scheduled as on a real cluster;
CUDA is not there, so the jobs run on the CPU. Every daemon is stopped by its PID.

One file outside the folder: the client default ``/etc/slurm/slurm.conf`` is linked to the
folder's config while the cluster runs, because the Snakemake job-step plugin drops
``SLURM_CONF`` from the environment of the ``srun`` it starts inside each job. A real config
there is never touched (the cluster then refuses to start, saying why).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

COMMANDS = ("munged", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "sinfo", "scancel")
CLIENT_CONF = Path("/etc/slurm/slurm.conf")
PARTITIONS = ("cpu", "gpu")  # the names profiles/slurm uses
FAKE_GPUS = 2
# The node claims at least this much (SlurmdParameters=config_overrides), so the SLURM
# profile's requests as written (4 CPUs per GPU, 32 GB) are scheduled on a small machine.
NODE_CPUS, NODE_MEM_MB = 8, 64000


def unavailable() -> str | None:
    """Why a cluster cannot be started here, or None when it can."""
    if os.geteuid() != 0:
        return "a private SLURM cluster needs root (slurmd runs jobs as their user)"
    missing = [d for d in COMMANDS if shutil.which(d) is None]
    if missing:
        return f"not installed: {', '.join(missing)} (make test installs them as root)"
    if CLIENT_CONF.exists() and not CLIENT_CONF.is_symlink():
        return f"{CLIENT_CONF} belongs to a real cluster; a test cluster would shadow it"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def slurm_conf(root: Path, cpus: int, mem_mb: int) -> str:
    host = socket.gethostname().split(".")[0]
    partitions = "\n".join(
        f"PartitionName={name} Nodes=ALL Default={'YES' if i == 0 else 'NO'} State=UP"
        for i, name in enumerate(PARTITIONS)
    )
    return f"""ClusterName=strata
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge/munge.socket
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName={host} NodeAddr=127.0.0.1 Sockets=1 CoresPerSocket={cpus} ThreadsPerCore=1 \
RealMemory={mem_mb} Gres=gpu:{FAKE_GPUS} State=UNKNOWN
{partitions}
"""


@dataclass
class Cluster:
    """A running cluster: ``env`` points the SLURM client commands at it."""

    root: Path
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.root / "slurm.conf")}

    def run(self, *argv: str) -> str:
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, check=True)
        return proc.stdout

    def jobs(self) -> list[dict[str, str]]:
        """Queued and running jobs: id, name, state and comment (the plugin's rule name)."""
        out = self.run("squeue", "--noheader", "--format=%i|%j|%T|%k")
        keys = ("id", "name", "state", "comment")
        return [dict(zip(keys, line.split("|"), strict=True)) for line in out.splitlines()]

    def log(self, daemon: str) -> str:
        path = self.root / "log" / f"{daemon}.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        """Cancel every job, stop each daemon by its PID (SIGTERM, then SIGKILL), unlink."""
        if self.procs and all(p.poll() is None for p in self.procs):
            subprocess.run(["scancel", "--full", "--user=root"], env=self.env, check=False)
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs.clear()
        if CLIENT_CONF.is_symlink() and CLIENT_CONF.readlink() == self.root / "slurm.conf":
            CLIENT_CONF.unlink()


def write_tree(root: Path, cpus: int, mem_mb: int) -> None:
    for name in ("state", "spool", "log", "dev"):
        (root / name).mkdir(parents=True, exist_ok=True)
    munge = root / "munge"
    munge.mkdir(mode=0o711, exist_ok=True)
    shutil.chown(munge, "munge", "munge")
    root.chmod(0o755)  # munged (as munge) reaches its socket folder through root
    # Fake GPUs: gres needs a device file per GPU; /dev/null's numbers serve.
    for i in range(FAKE_GPUS):
        device = root / "dev" / f"gpu{i}"
        if not device.exists():
            os.mknod(device, 0o666 | 0o020000, os.makedev(1, 3))
    host = socket.gethostname().split(".")[0]
    files = f"{root}/dev/gpu[0-{FAKE_GPUS - 1}]"
    (root / "gres.conf").write_text(f"NodeName={host} Name=gpu File={files}\n")
    (root / "slurm.conf").write_text(slurm_conf(root, cpus, mem_mb))
    # A link left by a killed test run is replaced; a real config never (see unavailable).
    CLIENT_CONF.parent.mkdir(parents=True, exist_ok=True)
    CLIENT_CONF.unlink(missing_ok=True)
    CLIENT_CONF.symlink_to(root / "slurm.conf")


def start(root: Path, cpus: int | None = None, mem_mb: int | None = None) -> Cluster:
    """Start munged, slurmctld and slurmd under ``root``; return once the node is idle."""
    if reason := unavailable():
        raise RuntimeError(reason)
    cpus = cpus or max(NODE_CPUS, os.cpu_count() or 1)
    mem_mb = mem_mb or max(NODE_MEM_MB, int(psutil.virtual_memory().total / 2**20))
    cluster = Cluster(root)
    conf = str(root / "slurm.conf")
    munge = root / "munge"
    commands = [
        (
            [
                "munged", "--foreground", "--force", f"--socket={munge}/munge.socket",
                f"--log-file={munge}/munged.log", f"--pid-file={munge}/munged.pid",
                f"--seed-file={munge}/seed",
            ],
            "munge",
        ),
        (["slurmctld", "-D", "-f", conf], None),
        (["slurmd", "-D", "-f", conf], None),
    ]  # fmt: skip
    try:
        write_tree(root, cpus, mem_mb)
        for argv, user in commands:
            out = open(root / "log" / f"{argv[0]}.out", "w")  # noqa: SIM115 (the daemon's)
            cluster.procs.append(
                subprocess.Popen(argv, user=user, env=cluster.env, stdout=out, stderr=out)
            )
            time.sleep(0.5)
        wait_idle(cluster)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def wait_idle(cluster: Cluster, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in cluster.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[0]} exited: see {cluster.root}/log")
        out = subprocess.run(
            ["sinfo", "--noheader", "--format=%t"], env=cluster.env, capture_output=True, text=True
        ).stdout.split()
        if out and all(state == "idle" for state in out):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the SLURM node did not come up within {timeout} s: see {cluster.root}/log")


@contextmanager
def cluster(root: Path | None = None, **kwargs: int) -> Iterator[Cluster]:
    """A running cluster for the length of the block; a temp folder when ``root`` is None."""
    folder = Path(tempfile.mkdtemp(prefix="strata-slurm-")) if root is None else root
    running = start(folder, **kwargs)
    try:
        yield running
    finally:
        running.stop()
        if root is None:
            shutil.rmtree(folder, ignore_errors=True)
