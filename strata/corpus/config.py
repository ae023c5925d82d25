"""Typed view of the ``embedded`` corpus config; rejects values the builder cannot honour.

Per-key bounds are the schema's (``#/definitions/embedded_dataset``); the rules here tie keys
together. Both also run at Snakefile parse time (:mod:`strata.config`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from strata.corpus.timbre import Timbre, draw_timbre
from strata.schema import ConfigError, check_schema

ENGINES = ("espeak", "flite", "festival")


@dataclass(frozen=True)
class Voice:
    """One speaker's voice: an engine's fixed voice, or a generated espeak-ng ``timbre``
    (``voice`` is then its variant name, spoken in an accent drawn per text)."""

    engine: str
    voice: str
    timbre: Timbre | None = None


def rng_for(seed: int, *names: str) -> np.random.Generator:
    """Generator keyed by seed and names, so one speaker's draws ignore the others'."""
    digest = hashlib.sha256("\0".join(names).encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def generated_voices(seed: int, count: int) -> tuple[Voice, ...]:
    """``count`` espeak-ng speakers, each with its own timbre; the name carries the seed, so
    corpora of different seeds share no speaker."""
    names = [f"s{seed}_{k:03d}" for k in range(count)]
    return tuple(
        Voice("espeak", name, draw_timbre(rng_for(seed, "timbre", name), name)) for name in names
    )


@dataclass(frozen=True)
class Style:
    name: str
    rate: float
    pitch: float

    @property
    def stretch(self) -> float:
        """Engine duration stretch; the later pitch resample shortens audio by ``pitch`` again."""
        return self.pitch / self.rate


@dataclass(frozen=True)
class CorpusConfig:
    seed: int
    sample_rate: int
    utterances_per_speaker: int
    keyword_fraction: float
    intent_phrasings: int
    voices: tuple[Voice, ...]  # generated speakers first, then the fixed voices
    accents: tuple[str, ...]  # espeak-ng languages a generated speaker's texts are drawn from
    styles: tuple[Style, ...]
    keywords: tuple[str, ...]
    verification_speakers: int
    verification_dev_speakers: int  # of those, the speakers of the dev trials
    dev_fraction: float
    test_fraction: float
    trials_per_speaker: int


def _voices(raw: list[dict[str, str]]) -> tuple[Voice, ...]:
    return tuple(Voice(v["engine"], v["voice"]) for v in raw)


def _styles(raw: Mapping[str, Mapping[str, float]]) -> tuple[Style, ...]:
    return tuple(Style(name, float(s["rate"]), float(s["pitch"])) for name, s in raw.items())


def default_dev_speakers(verification_speakers: int) -> int:
    """Half the verification speakers give dev trials, once both halves can have 2."""
    return verification_speakers // 2 if verification_speakers >= 4 else 0


def parse_config(cfg: Mapping[str, Any]) -> CorpusConfig:
    """Check ``cfg`` against the schema's ``embedded_dataset`` and the corpus's own cross-field
    rules; raise :class:`~strata.config.ConfigError` naming the offending key."""
    check_schema(cfg, "embedded_dataset")
    splits, speakers = cfg["splits"], cfg.get("speakers", {})
    config = CorpusConfig(
        seed=cfg["seed"],
        sample_rate=cfg["sample_rate"],
        utterances_per_speaker=cfg["utterances_per_speaker"],
        keyword_fraction=float(cfg["keyword_fraction"]),
        intent_phrasings=cfg["intent_phrasings"],
        voices=generated_voices(cfg["seed"], speakers.get("count", 0))
        + _voices(cfg.get("voices", [])),
        accents=tuple(speakers.get("accents", ())),
        styles=_styles(cfg["styles"]),
        keywords=tuple(cfg["keywords"]),
        verification_speakers=splits["verification_speakers"],
        verification_dev_speakers=splits.get(
            "verification_dev_speakers", default_dev_speakers(splits["verification_speakers"])
        ),
        dev_fraction=float(splits["dev_fraction"]),
        test_fraction=float(splits["test_fraction"]),
        trials_per_speaker=cfg["trials_per_speaker"],
    )
    _check_consistency(config)
    return config


def _check_consistency(c: CorpusConfig) -> None:
    # Every text is spoken once per style so style contrasts are text-matched.
    if c.utterances_per_speaker % len(c.styles):
        raise ConfigError(
            "utterances_per_speaker",
            f"must be a multiple of the number of styles ({len(c.styles)}), "
            f"got {c.utterances_per_speaker}",
        )
    if len(c.voices) < 2:
        raise ConfigError("speakers", f"the corpus needs >= 2 speakers, got {len(c.voices)}")
    if c.verification_speakers >= len(c.voices):
        raise ConfigError(
            "splits.verification_speakers", "must leave at least one closed-set speaker"
        )
    if c.trials_per_speaker and c.verification_speakers < 2:
        raise ConfigError(
            "splits.verification_speakers",
            "must be >= 2 when trials_per_speaker > 0 (non-target trials need another speaker)",
        )
    dev, test = c.verification_dev_speakers, c.verification_speakers - c.verification_dev_speakers
    if test < 0:
        raise ConfigError(
            "splits.verification_dev_speakers",
            f"{dev} exceeds verification_speakers ({c.verification_speakers})",
        )
    # A non-target trial pairs a speaker with another speaker of its own side (dev or test).
    if c.trials_per_speaker and (dev == 1 or test < 2):
        raise ConfigError(
            "splits.verification_dev_speakers",
            f"{dev} dev and {test} test trial speakers: dev trials need 0 or >= 2 speakers, "
            "test trials >= 2",
        )
