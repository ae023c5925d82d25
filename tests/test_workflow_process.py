"""strata.workflow's process settings (heap, threads) and the rule scripts' thread limits, in fresh
processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "workflow_scripts"


LIMITS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _run(code: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in LIMITS}  # the caller's limits, gone
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=SCRIPTS,
        env=env,
    )
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_pinned_threshold_keeps_freed_tensors_on_the_heap_until_trimmed():
    # 1 MiB arrays sit under the 32 MiB threshold: freed between live small ones (so the heap's
    # top cannot shrink), their pages stay resident, reused by the next batch, until trim_heap
    # hands them back.
    code = """
import json, numpy as np
from strata.workflow import fix_malloc_mmap_threshold, trim_heap
def rss(): return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
fix_malloc_mmap_threshold()
base = rss()
held, live = [], []
for _ in range(400):  # 400 MiB in 1 MiB arrays, each followed by a small one that stays
    held.append(np.ones(2**17))
    live.append(np.ones(2**10))
del held
freed = rss()
trim_heap()
print(json.dumps({"base": base, "freed": freed, "trimmed": rss()}))
"""
    mb = _run(code)
    assert mb["freed"] - mb["base"] > 300  # reusable, not faulted afresh
    assert mb["trimmed"] - mb["base"] < 50


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: one thread either way")
@pytest.mark.parametrize("job", [True, False])
def test_a_rule_scripts_math_libraries_get_the_jobs_threads(job):
    # What Snakemake's script preamble leaves in __main__, then the scripts' first import;
    # outside a job (a user importing _checkout) nothing is limited: a thread per core.
    threads = 1 if job else os.cpu_count()
    preamble = "__main__.snakemake = types.SimpleNamespace(threads=1)" if job else ""
    code = f"""
import json, types, __main__
{preamble}
import _checkout
import numpy, torch
from threadpoolctl import threadpool_info
blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
print(json.dumps({{"blas": blas, "torch": torch.get_num_threads()}}))
"""
    found = _run(code)
    assert found["blas"] and set(found["blas"]) == {threads}
    assert found["torch"] == threads


def test_heap_trimmer_trims_once_rss_outgrows_the_slack(monkeypatch):
    from strata import workflow

    rss = iter([1000, 1100, 1300, 1301, 900, 950, 1200, 1000])
    trims = []
    monkeypatch.setattr(workflow, "resident_mb", lambda: next(rss))
    monkeypatch.setattr(workflow, "trim_heap", lambda: trims.append(1))
    trim = workflow.HeapTrimmer(slack_mb=250)  # floor 1000
    trim()  # 1100: within the slack
    assert not trims
    trim()  # 1300: past it, trimmed; the new floor is read after the trim (1301)
    assert len(trims) == 1 and trim.floor == 1301
    trim()  # 900: below the floor
    trim()  # 950
    trim()  # 1200: within 250 of 1301
    assert len(trims) == 1


def test_heap_trimmer_trims_every_call_where_rss_cannot_be_read(monkeypatch):
    from strata import workflow

    trims = []
    monkeypatch.setattr(workflow, "resident_mb", lambda: None)
    monkeypatch.setattr(workflow, "trim_heap", lambda: trims.append(1))
    trim = workflow.HeapTrimmer(slack_mb=250)
    trim()
    trim()
    assert len(trims) == 2
