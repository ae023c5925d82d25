"""Texts: single keywords (Speech Commands-like) and a small intent grammar (FSC-like: a fixed
inventory of command wordings that recur across speakers)."""

from __future__ import annotations

from collections import Counter
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


def phrasings(rng: np.random.Generator, per_intent: int) -> list[tuple[str, Intent]]:
    """The corpus's fixed command inventory: ``per_intent`` distinct wordings of every intent
    (fewer where the grammar has fewer), as FSC's recurring phrasings."""
    inventory = []
    for intent in all_intents():
        forms = 1 if intent.location == NO_LOCATION else len(NP_WITH_LOCATION)
        wordings = [(t, f) for t in range(len(TEMPLATES[intent.action])) for f in range(forms)]
        for i in rng.permutation(len(wordings))[:per_intent]:
            inventory.append((realise(intent, *wordings[i]), intent))
    return inventory


def sample_intents(
    rng: np.random.Generator, inventory: Sequence[tuple[str, Intent]], size: int
) -> list[tuple[str, Intent]]:
    """``size`` (text, intent) pairs: intents balanced (counts differ by <= 1), each intent's
    wordings taken in turn, so every wording recurs and the first ``len(inventory)`` picks
    cover the inventory."""
    wordings: dict[Intent, list[tuple[str, Intent]]] = {}
    for text, intent in inventory:
        wordings.setdefault(intent, []).append((text, intent))
    intents, turns = list(wordings), Counter()
    picks = []
    for i in _balanced_draw(rng, len(intents), size):
        own = wordings[intents[i]]
        picks.append(own[turns[i] % len(own)])
        turns[i] += 1
    return picks


def vocabulary(keywords: Sequence[str] = ()) -> set[str]:
    """Every word the grammar (plus ``keywords``) can produce."""
    words = set(keywords) | set(OBJECTS) | {loc for loc in LOCATIONS if loc != NO_LOCATION}
    for templates in TEMPLATES.values():
        words |= {w for t in templates for w in t.split() if not w.startswith("{")}
    words |= {w for form in (NP_PLAIN, *NP_WITH_LOCATION) for w in form.split() if "{" not in w}
    return words
