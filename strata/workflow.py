"""Glue for workflow_scripts/: logging into the rule's log file, typed access to snakemake."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

STARTUP = "ready %.3f s after the process started"  # `make bench` reads it from the logs


def seconds_since_start() -> float:
    """Wall seconds since this process started (Python start, Snakemake's script preamble and
    imports so far): a job's fixed cost."""
    import time

    import psutil

    return time.time() - psutil.Process().create_time()


@contextmanager
def rule_logging(smk: Any) -> Iterator[logging.Logger]:
    """Send logging, stdout and stderr (progress bars, warnings) to the rule's log file."""
    path = smk.log[0] if smk.log else None
    stream = open(path, "w") if path else sys.stderr  # noqa: SIM115 - closed below
    old = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = stream
    logging.basicConfig(
        stream=stream, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", force=True
    )
    log = logging.getLogger(f"strata.{smk.rule}")
    try:
        yield log
    except BaseException:
        log.exception("rule %s failed", smk.rule)
        raise
    finally:
        sys.stdout, sys.stderr = old
        if path:
            stream.close()
