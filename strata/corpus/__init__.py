"""Offline, deterministic multi-speaker speech corpus synthesised with TTS voices ("embedded")."""

from strata._lazy import lazy_exports

_EXPORTS = {
    "MANIFEST_COLUMNS": "strata.corpus.manifest",
    "CorpusConfig": "strata.corpus.config",
    "MissingVoiceError": "strata.corpus.engines",
    "build_corpus": "strata.corpus.build",
    "check_voices": "strata.corpus.engines",
    "parse_config": "strata.corpus.config",
    "read_trials": "strata.corpus.manifest",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
