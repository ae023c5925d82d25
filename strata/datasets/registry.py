"""Dataset kinds (a registry): each builds ``results/data/{dataset}/`` around manifest.parquet.

Light on purpose: the Snakefile reads what each kind labels (and whether it has verification
trials) at parse time; the builders load lazily. A new corpus is one module with a
``prepare_*`` function and one entry here (plus its definition in the schema).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DatasetKind:
    builder: str  # "module:function"
    labels: tuple[str, ...] | None  # label columns; None: only known once built (user tables)
    trials: bool | None  # writes trials.parquet; None: depends on the config (embedded)


DATASET_KINDS: dict[str, DatasetKind] = {
    "embedded": DatasetKind("strata.corpus.build:build_corpus", None, None),
    "manifest": DatasetKind("strata.datasets.user_table:import_manifest", None, None),
    "librispeech": DatasetKind(
        "strata.datasets.librispeech:prepare_librispeech",
        ("speaker", "chapter", "text", "words", "phones"),
        False,
    ),
    "voxceleb1": DatasetKind("strata.datasets.voxceleb:prepare_voxceleb1", ("speaker",), True),
    "speech_commands": DatasetKind(
        "strata.datasets.speech_commands:prepare_speech_commands",
        ("keyword", "word", "speaker"),
        False,
    ),
    "fluent_speech_commands": DatasetKind(
        "strata.datasets.fluent_speech_commands:prepare_fluent_speech_commands",
        ("intent", "action", "object", "location", "speaker", "text"),
        False,
    ),
    "iemocap": DatasetKind(
        "strata.datasets.iemocap:prepare_iemocap", ("emotion", "speaker", "session"), False
    ),
}


def prepare_dataset(cfg: dict[str, Any], out_dir: Path, threads: int = 1):
    """Build ``out_dir`` for a dataset config, atomically (complete or absent)."""
    from strata.io import atomic_dir

    kind = DATASET_KINDS.get(cfg["kind"])
    if kind is None:
        raise KeyError(f"unknown dataset kind {cfg['kind']!r}; known: {sorted(DATASET_KINDS)}")
    module, function = kind.builder.split(":")
    builder = getattr(importlib.import_module(module), function)
    with atomic_dir(out_dir) as tmp:
        return builder(cfg, tmp, threads)
