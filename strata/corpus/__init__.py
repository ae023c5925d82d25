"""Offline, deterministic multi-speaker speech corpus synthesised with TTS voices ("embedded")."""

from strata.corpus.build import build_corpus
from strata.corpus.config import CorpusConfig, parse_config
from strata.corpus.engines import MissingVoiceError, check_voices
from strata.corpus.manifest import MANIFEST_COLUMNS, read_trials

__all__ = [
    "MANIFEST_COLUMNS",
    "CorpusConfig",
    "MissingVoiceError",
    "build_corpus",
    "check_voices",
    "parse_config",
    "read_trials",
]
