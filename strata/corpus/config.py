"""Typed view of the ``embedded`` corpus config; rejects values the builder cannot honour."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ENGINES = ("espeak", "flite", "festival")


@dataclass(frozen=True)
class Voice:
    engine: str
    voice: str


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
    voices: tuple[Voice, ...]
    styles: tuple[Style, ...]
    keywords: tuple[str, ...]
    verification_speakers: int
    dev_fraction: float
    test_fraction: float
    trials_per_speaker: int


def _int(value: Any, key: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"config key {key!r} must be an integer >= {minimum}, got {value!r}")
    return value


def _fraction(value: Any, key: str, closed: bool = False) -> float:
    """A number in [0, 1), or [0, 1] when ``closed``."""
    inside = isinstance(value, int | float) and (0 <= value <= 1 if closed else 0 <= value < 1)
    if isinstance(value, bool) or not inside:
        interval = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(f"config key {key!r} must be a number in {interval}, got {value!r}")
    return float(value)


def _positive(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"config key {key!r} must be a positive number, got {value!r}")
    return float(value)


def _require(cfg: Mapping[str, Any], key: str) -> Any:
    if key not in cfg:
        raise ValueError(f"config key {key!r} is missing")
    return cfg[key]


def _voices(raw: Any) -> tuple[Voice, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValueError("config key 'voices' must be a non-empty list")
    voices = []
    for i, item in enumerate(raw):
        engine = item.get("engine") if isinstance(item, Mapping) else None
        name = item.get("voice") if isinstance(item, Mapping) else None
        if engine not in ENGINES:
            raise ValueError(f"config key 'voices[{i}].engine' must be one of {ENGINES}")
        if not isinstance(name, str) or not name:
            raise ValueError(f"config key 'voices[{i}].voice' must be a non-empty string")
        voices.append(Voice(engine, name))
    if len(set(voices)) != len(voices):
        raise ValueError("config key 'voices' lists the same voice twice")
    return tuple(voices)


def _styles(raw: Any) -> tuple[Style, ...]:
    if not isinstance(raw, Mapping) or not raw:
        raise ValueError("config key 'styles' must be a non-empty mapping")
    styles = []
    for name, spec in raw.items():
        if not isinstance(spec, Mapping):
            raise ValueError(f"config key 'styles.{name}' must be a mapping with rate and pitch")
        rate = _positive(spec.get("rate"), f"styles.{name}.rate")
        styles.append(Style(name, rate, _positive(spec.get("pitch"), f"styles.{name}.pitch")))
    return tuple(styles)


def _keywords(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValueError("config key 'keywords' must be a non-empty list of strings")
    for k in raw:
        if isinstance(k, bool):
            # YAML 1.1 (PyYAML) reads bare yes/no/on/off as booleans; guessing which is unsafe.
            raise ValueError(
                f"config key 'keywords' has boolean {k!r}: quote yes/no/on/off in the YAML"
            )
        if not isinstance(k, str):
            raise ValueError(f"config key 'keywords' must hold strings, got {k!r}")
    if len(set(raw)) != len(raw):
        raise ValueError("config key 'keywords' has duplicates")
    return tuple(k.lower() for k in raw)


def parse_config(cfg: Mapping[str, Any]) -> CorpusConfig:
    """Validate the keys the builder reads; raise ValueError naming the offending key."""
    if cfg.get("kind", "embedded") != "embedded":
        raise ValueError(f"config key 'kind' must be 'embedded', got {cfg['kind']!r}")
    splits = _require(cfg, "splits")
    if not isinstance(splits, Mapping):
        raise ValueError("config key 'splits' must be a mapping")
    config = CorpusConfig(
        seed=_int(_require(cfg, "seed"), "seed"),
        sample_rate=_int(_require(cfg, "sample_rate"), "sample_rate", minimum=8000),
        utterances_per_speaker=_int(
            _require(cfg, "utterances_per_speaker"), "utterances_per_speaker", minimum=1
        ),
        keyword_fraction=_fraction(
            _require(cfg, "keyword_fraction"), "keyword_fraction", closed=True
        ),
        voices=_voices(_require(cfg, "voices")),
        styles=_styles(_require(cfg, "styles")),
        keywords=_keywords(_require(cfg, "keywords")),
        verification_speakers=_int(
            _require(splits, "verification_speakers"), "splits.verification_speakers"
        ),
        dev_fraction=_fraction(_require(splits, "dev_fraction"), "splits.dev_fraction"),
        test_fraction=_fraction(_require(splits, "test_fraction"), "splits.test_fraction"),
        trials_per_speaker=_int(_require(cfg, "trials_per_speaker"), "trials_per_speaker"),
    )
    _check_consistency(config)
    return config


def _check_consistency(c: CorpusConfig) -> None:
    # Every text is spoken once per style so style contrasts are text-matched.
    if c.utterances_per_speaker % len(c.styles):
        raise ValueError(
            "config key 'utterances_per_speaker' must be a multiple of the number of styles "
            f"({len(c.styles)}), got {c.utterances_per_speaker}"
        )
    if c.verification_speakers >= len(c.voices):
        raise ValueError(
            "config key 'splits.verification_speakers' must leave at least one closed-set speaker"
        )
    if c.trials_per_speaker % 2:
        raise ValueError("config key 'trials_per_speaker' must be even (half target, half not)")
    if c.trials_per_speaker and c.verification_speakers < 2:
        raise ValueError(
            "config key 'splits.verification_speakers' must be >= 2 for non-target trials"
        )
