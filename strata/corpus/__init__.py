"""Offline, deterministic multi-speaker speech corpus synthesised with TTS voices ("embedded")."""

from strata.corpus.build import build_corpus
from strata.corpus.config import CorpusConfig, parse_config
from strata.corpus.engines import MissingVoiceError, check_voices
from strata.corpus.manifest import (
    MANIFEST_COLUMNS,
    manifest_checksum,
    read_manifest,
    read_trials,
)
from strata.io import read_parquet_metadata as read_metadata

__all__ = [
    "MANIFEST_COLUMNS",
    "CorpusConfig",
    "MissingVoiceError",
    "build_corpus",
    "check_voices",
    "manifest_checksum",
    "parse_config",
    "read_manifest",
    "read_metadata",
    "read_trials",
]
