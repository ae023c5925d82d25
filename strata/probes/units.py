"""A probe's per-unit test outcomes (``test_units.parquet``): one row per test row its metric is
computed from, so two probes scored on the same test rows can be compared on their paired
difference, resampling the same clusters for both.

Columns (:attr:`strata.probes.metrics.ProbeOutcome.units`), in the order the test statistic is
computed in; ``key`` names the row, ``unit`` is the cluster the bootstrap resamples:

======================  ==============================  ====================  ================
kind                    key                             unit                  outcome
======================  ==============================  ====================  ================
classification          utterance id                    utterance id          correct (0/1)
verification            "{enrollment}|{test}"           enrolment speaker     score, target
phoneme_recognition     utterance id                    utterance id          edits, length
======================  ==============================  ====================  ================

:meth:`strata.probes.kinds.TaskKind.statistic` turns them back into the metric.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from strata.io import read_parquet_metadata, read_table, write_parquet

UNITS_FILE = "test_units.parquet"
REQUIRED = ("key", "unit")


def write_units(path: Path, units: dict[str, np.ndarray], metadata: dict[str, Any]) -> None:
    """``units`` (column -> one value per test row) as Parquet, atomically, with ``metadata``."""
    import pyarrow as pa

    table = pa.table({name: pa.array(values) for name, values in units.items()})
    write_parquet(table, path, metadata)


def read_units(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A probe's per-unit test outcomes (column -> 1-D array) and the file's metadata; a missing,
    unreadable or incomplete file is an error naming it."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: per-unit test outcomes missing (the probe job writes it)")
    table, metadata = read_table(path), read_parquet_metadata(path)
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise ValueError(f"{path}: per-unit test outcomes without column {missing[0]!r}")
    units = {c: table.column(c).to_numpy(zero_copy_only=False) for c in table.column_names}
    return units, metadata
