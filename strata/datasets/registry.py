"""Dataset kinds (a registry): each builds ``results/data/{dataset}/`` around manifest.parquet.

Light on purpose: the Snakefile reads what each kind labels (and whether it has verification
trials) at parse time; the builders load lazily. A new corpus is one module with a
``prepare_*`` function and one entry here (plus its definition in the schema); or, without
touching the package, a :class:`DatasetKind` of your own named by import path in the config
(``kind: my_pkg.corpora:TOY``; docs/extending.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strata.plugins import is_import_path, load_object


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


def dataset_kind(name: str) -> DatasetKind:
    """The registered kind, or the :class:`DatasetKind` an import path names (which must say
    its label columns and whether it writes trials: the DAG is checked before it builds)."""
    if is_import_path(name):
        kind = load_object(name, "dataset kind")
        if not isinstance(kind, DatasetKind):
            raise TypeError(f"dataset kind {name!r} is not a strata.datasets.DatasetKind")
        if kind.labels is None or kind.trials is None:
            raise TypeError(f"dataset kind {name!r} must declare its labels and trials")
        return kind
    try:
        return DATASET_KINDS[name]
    except KeyError:
        raise KeyError(f"unknown dataset kind {name!r}; known: {sorted(DATASET_KINDS)}") from None


def prepare_dataset(cfg: dict[str, Any], out_dir: Path, threads: int = 1):
    """Build ``out_dir`` for a dataset config, atomically (complete or absent)."""
    from strata.io import atomic_dir

    builder = load_object(dataset_kind(cfg["kind"]).builder, f"dataset kind {cfg['kind']!r}")
    with atomic_dir(out_dir) as tmp:
        return builder(cfg, tmp, threads)
