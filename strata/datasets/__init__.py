"""Datasets: each config ``kind`` prepares ``results/data/{dataset}/`` around a manifest.parquet.

``embedded`` synthesises the offline TTS corpus (:mod:`strata.corpus`); ``manifest`` imports a
user's table; one recipe per standard corpus (LibriSpeech, VoxCeleb1, Speech Commands, Fluent
Speech Commands, IEMOCAP) reads its on-disk layout. All audio is checked on the way in.
"""

from strata._lazy import lazy_exports

_EXPORTS = {
    "DATASET_KINDS": "strata.datasets.registry",
    "DatasetKind": "strata.datasets.registry",
    "prepare_dataset": "strata.datasets.registry",
    "check_audio": "strata.datasets.common",
    "inspect_audio": "strata.datasets.common",
    "import_manifest": "strata.datasets.user_table",
    "resolve_audio": "strata.datasets.user_table",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
