"""A tiny corpus (one voice per engine plus a second espeak voice), built twice."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from strata.corpus import build_corpus, read_trials
from strata.manifest import read_manifest

TINY_CFG = {
    "kind": "embedded",
    "seed": 0,
    "sample_rate": 16000,
    "utterances_per_speaker": 12,  # 3 texts x 4 styles: one text each for train/dev/test
    "keyword_fraction": 0.5,
    "intent_phrasings": 2,
    "voices": [
        {"engine": "espeak", "voice": "en-us+m1"},
        {"engine": "espeak", "voice": "en-gb-scotland+f2"},
        {"engine": "flite", "voice": "kal16"},
        # The HTS voice exercises the hts_engine speed path (it ignores Duration_Stretch).
        {"engine": "festival", "voice": "cmu_us_slt_arctic_hts"},
    ],
    "styles": {
        "neutral": {"rate": 1.0, "pitch": 1.0},
        "fast": {"rate": 1.4, "pitch": 1.0},
        "slow": {"rate": 0.7, "pitch": 1.0},
        "high": {"rate": 1.0, "pitch": 1.3},
    },
    "keywords": ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"],
    "splits": {"verification_speakers": 2, "dev_fraction": 0.15, "test_fraction": 0.15},
    "trials_per_speaker": 10,
}


@pytest.fixture
def tiny_cfg() -> dict:
    return copy.deepcopy(TINY_CFG)


@pytest.fixture(scope="session")
def tiny_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same config built serially and with two workers."""
    first = tmp_path_factory.mktemp("corpus_a")
    second = tmp_path_factory.mktemp("corpus_b")
    build_corpus(copy.deepcopy(TINY_CFG), first, threads=1)
    build_corpus(copy.deepcopy(TINY_CFG), second, threads=2)
    return first, second


@pytest.fixture(scope="session")
def tiny_dir(tiny_builds: tuple[Path, Path]) -> Path:
    return tiny_builds[0]


@pytest.fixture(scope="session")
def manifest(tiny_dir: Path):
    return read_manifest(tiny_dir / "manifest.parquet")


@pytest.fixture(scope="session")
def trials(tiny_dir: Path):
    return read_trials(tiny_dir / "trials.parquet")
