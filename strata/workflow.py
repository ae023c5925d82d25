"""Glue for workflow_scripts/: logging into the rule's log file, typed access to snakemake."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

STARTUP = "ready %.3f s after the process started"  # `make bench` reads it from the logs


def seconds_since_start() -> float:
    """Wall seconds since this process started (Python start, Snakemake's script preamble and
    imports so far): a job's fixed cost."""
    import time

    import psutil

    return time.time() - psutil.Process().create_time()


@contextmanager
def rule_logging(logs: Sequence[str], rule: str) -> Iterator[logging.Logger]:
    """Send logging, stdout and stderr (progress bars, warnings) to the rule's log file (the
    first of ``logs``; stderr without one)."""
    path = logs[0] if logs else None
    stream = open(path, "w") if path else sys.stderr  # noqa: SIM115 - closed below
    old = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = stream
    logging.basicConfig(
        stream=stream, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", force=True
    )
    log = logging.getLogger(f"strata.{rule}")
    try:
        yield log
    except BaseException:
        log.exception("rule %s failed", rule)
        raise
    finally:
        sys.stdout, sys.stderr = old
        if path:
            stream.close()


# glibc's own ceiling for its dynamic threshold (64-bit): tensors below it reuse heap pages.
MMAP_THRESHOLD = 32 * 2**20


@functools.cache  # find_library runs ldconfig: once per process, not per trim
def _libc():
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def fix_malloc_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> None:
    """Pin glibc's mmap threshold. Left dynamic, it rises past big freed tensors and their
    pages stay on a fragmenting heap (measured: +30 MB RSS per WavLM Base batch); pinned low
    (128 KiB), every tensor is a fresh mmap whose pages the kernel faults in zeroed (measured:
    half of extraction's and a third of a CTC probe's time in the kernel). Pinned at 32 MiB,
    tensors below it reuse heap pages and :class:`HeapTrimmer` bounds what stays. No-op off
    glibc."""
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(-3, threshold)  # M_MMAP_THRESHOLD


def trim_heap() -> None:
    """Give the heap's free pages back to the kernel (glibc's malloc_trim). No-op off glibc."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def resident_mb() -> float | None:
    """This process's resident memory (MB; Linux), else None."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


class HeapTrimmer:
    """Calls :func:`trim_heap` once RSS has grown ``slack_mb`` past what it was after the last
    trim (every call where RSS cannot be read): freed pages are reused between trims, so the
    kernel faults few in afresh, and RSS stays within the slack of what is live (WavLM Base
    frame extraction, ``make bench``: never trimmed it grew by up to 1.1 GB from 0.08 h to
    0.33 h of audio, as the freed blocks happened to fall; trimmed after every batch it stayed
    flat)."""

    def __init__(self, slack_mb: float):
        self.slack_mb = slack_mb
        self.floor = resident_mb()

    def __call__(self) -> None:
        now = resident_mb()
        if now is None or self.floor is None or now - self.floor > self.slack_mb:
            trim_heap()
            self.floor = resident_mb()


def resolve_device(name: str) -> torch.device:
    """``auto``: the GPU when torch sees one, else the CPU; ``cuda`` without one is an error
    (here, not at the first tensor moved)."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device is {name}, but torch sees no GPU")
    return torch.device(name)


def portable(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the working directory when it lies inside it, else absolute: what
    Snakemake records of an input, so a run moved with its folder (or a clone of the project
    run in another place) finds its inputs unchanged."""
    absolute = Path(os.path.abspath(path))
    here = Path.cwd()
    return os.path.relpath(absolute, here) if absolute.is_relative_to(here) else str(absolute)
