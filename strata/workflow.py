"""Glue for workflow_scripts/: logging into the rule's log file, typed access to snakemake."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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


def fix_malloc_mmap_threshold(threshold: int = 128 * 1024) -> None:
    """Stop glibc's dynamic mmap threshold: after large tensors are freed it moves large
    allocations onto the heap, whose freed pages it keeps, so RSS would creep up batch after
    batch (measured: +30 MB per WavLM Base batch). No-op off glibc."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "mallopt"):
            libc.mallopt(-3, threshold)  # M_MMAP_THRESHOLD
    except OSError:
        pass


def resolve_device(name: str) -> torch.device:
    """``auto``: the GPU when torch sees one, else the CPU; ``cuda`` without one is an error
    (here, not at the first tensor moved)."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device is {name}, but torch sees no GPU")
    return torch.device(name)
