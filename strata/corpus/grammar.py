"""Texts: single keywords (Speech Commands-like) and a small intent grammar (FSC-like)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NO_LOCATION = "none"
LOCATIONS = ("kitchen", "bedroom", "washroom", NO_LOCATION)

# Several surface forms per action so intent is not recoverable from wording alone.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "activate": (
        "turn on {np}",
        "switch on {np}",
        "turn {np} on",
        "switch {np} on",
        "activate {np}",
    ),
    "deactivate": (
        "turn off {np}",
        "switch off {np}",
        "turn {np} off",
        "switch {np} off",
        "deactivate {np}",
    ),
    "increase": ("turn up {np}", "turn {np} up", "increase {np}", "raise {np}"),
    "decrease": ("turn down {np}", "turn {np} down", "decrease {np}", "lower {np}"),
}

# Which actions and locations make sense per object (like FSC: no "decrease the music").
OBJECTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "lights": (("activate", "deactivate", "increase", "decrease"), LOCATIONS),
    "heat": (("activate", "deactivate", "increase", "decrease"), LOCATIONS),
    "music": (("activate", "deactivate"), (NO_LOCATION,)),
    "volume": (("increase", "decrease"), (NO_LOCATION,)),
}

NP_PLAIN = "the {obj}"
NP_WITH_LOCATION = ("the {obj} in the {loc}", "the {loc} {obj}")


@dataclass(frozen=True, order=True)
class Intent:
    action: str
    object: str
    location: str

    @property
    def label(self) -> str:
        return f"{self.action}:{self.object}:{self.location}"


def all_intents() -> list[Intent]:
    """Every valid (action, object, location) triple, in a fixed order."""
    return sorted(
        Intent(action, obj, loc)
        for obj, (actions, locations) in OBJECTS.items()
        for action in actions
        for loc in locations
    )


def realise(intent: Intent, template: int, np_form: int) -> str:
    """Surface text of ``intent`` using template and noun-phrase form indices (wrapped)."""
    if intent.location == NO_LOCATION:
        noun_phrase = NP_PLAIN.format(obj=intent.object)
    else:
        form = NP_WITH_LOCATION[np_form % len(NP_WITH_LOCATION)]
        noun_phrase = form.format(obj=intent.object, loc=intent.location)
    templates = TEMPLATES[intent.action]
    return templates[template % len(templates)].format(np=noun_phrase)


def _balanced_draw(rng: np.random.Generator, n: int, size: int) -> list[int]:
    """``size`` indices into ``range(n)``, cycling fresh permutations so counts differ by <= 1."""
    rounds = -(-size // n) if size else 0
    return [int(i) for _ in range(rounds) for i in rng.permutation(n)][:size]


def sample_keywords(rng: np.random.Generator, keywords: Sequence[str], size: int) -> list[str]:
    return [keywords[i] for i in _balanced_draw(rng, len(keywords), size)]


def sample_intents(rng: np.random.Generator, size: int) -> list[tuple[str, Intent]]:
    """``size`` (text, intent) pairs with intents balanced and wording drawn at random."""
    intents = all_intents()
    picks = [intents[i] for i in _balanced_draw(rng, len(intents), size)]
    return [(realise(it, int(rng.integers(1 << 16)), int(rng.integers(2))), it) for it in picks]


def vocabulary(keywords: Sequence[str] = ()) -> set[str]:
    """Every word the grammar (plus ``keywords``) can produce."""
    words = set(keywords) | set(OBJECTS) | {loc for loc in LOCATIONS if loc != NO_LOCATION}
    for templates in TEMPLATES.values():
        words |= {w for t in templates for w in t.split() if not w.startswith("{")}
    words |= {w for form in (NP_PLAIN, *NP_WITH_LOCATION) for w in form.split() if "{" not in w}
    return words
