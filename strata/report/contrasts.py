"""The paper's contrasts, checked on this run's numbers and stated as reproduced or not.

Each contrast compares best-layer probe scores (layer chosen on dev, never on test; test score
with its 95 % interval) or similarity values between models in a role: ``speech_ssl``
(masked prediction), ``speaker_ssl`` (DINO) and ``supervised`` (AAM-softmax), known from a
model's configured ``role`` or else its card's training objective. A difference counts only
when the intervals do not overlap; a difference inside them is reported as within noise, never
as reproduced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from strata.probes.kinds import TASK_KINDS

ROLES = {"masked_prediction": "speech_ssl", "dino": "speaker_ssl", "aam_softmax": "supervised"}
SPEAKER_ROLES = ("speaker_ssl", "supervised")
REPRODUCED, WITHIN_NOISE, NOT_REPRODUCED, UNTESTED = (
    "reproduced",
    "within noise",
    "not reproduced",
    "not testable here",
)


@dataclass(frozen=True)
class Verdict:
    claim: str
    outcome: str
    evidence: str


@dataclass(frozen=True)
class Score:
    model: str
    layer: str
    value: float
    low: float
    high: float
    higher_better: bool

    def __str__(self) -> str:
        return f"{self.model}/{self.layer} {self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"

    def beats(self, other: Score) -> str:
        """REPRODUCED when better with disjoint intervals, WITHIN_NOISE when better inside
        them, else NOT_REPRODUCED."""
        sign = 1 if self.higher_better else -1
        if sign * (self.value - other.value) <= 0:
            return NOT_REPRODUCED
        clear = self.low > other.high if self.higher_better else self.high < other.low
        return REPRODUCED if clear else WITHIN_NOISE


def roles_of(
    cards: Iterable[Mapping[str, Any]], configured: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Model → role: the configured ``role``, else its training objective's."""
    roles = {}
    for card in cards:
        role = (configured or {}).get(card["model"])
        role = role or ROLES.get(card.get("training", {}).get("objective"))
        if role is not None:
            roles[card["model"]] = role
    return roles


def task_groups(tasks: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Speaker tasks (speaker classification, verification) and content tasks (phones,
    keywords), as each task's kind says (:meth:`TaskKind.report_group`)."""
    groups: dict[str, list[str]] = {"speaker": [], "content": []}
    for name, task in tasks.items():
        group = TASK_KINDS[task["kind"]].report_group(task)
        if group is not None:
            groups[group].append(name)
    return groups


NO_DEV = "no dev scores: a best layer chosen on test would favour models with more layers"


def has_dev(table: pd.DataFrame, model: str) -> bool:
    rows = table[(table["model"] == model) & (table["layer"] != "weighted_sum")]
    return not rows.empty and bool(rows["dev"].notna().all())


def best_score(table: pd.DataFrame, model: str) -> Score | None:
    """A model's best single layer on a task, chosen on dev (earlier layer on ties); None
    without the model's rows or without dev scores (test never chooses)."""
    if not has_dev(table, model):
        return None
    rows = table[(table["model"] == model) & (table["layer"] != "weighted_sum")]
    higher = rows["metric"].iloc[0] == "accuracy"
    best = rows.sort_values(["dev", "layer_index"], ascending=[not higher, True]).iloc[0]
    return _score(best, higher)


def _score(row: pd.Series, higher: bool) -> Score:
    return Score(row["model"], row["layer"], row["test"], row["ci_low"], row["ci_high"], higher)


def _combine(outcomes: list[str]) -> str:
    if not outcomes:
        return UNTESTED
    for outcome in (NOT_REPRODUCED, WITHIN_NOISE):
        if outcome in outcomes:
            return outcome
    return REPRODUCED


def _compare(
    claim: str, tables: Mapping[str, pd.DataFrame], task_names: list[str], winners, losers
) -> Verdict:
    """Every winner's best layer against every loser's, on every task."""
    outcomes, evidence = [], []
    for task in (t for t in task_names if t in tables):
        for w in winners:
            for loser in losers:
                a, b = best_score(tables[task], w), best_score(tables[task], loser)
                if a is None or b is None:
                    missing = [m for m in (w, loser) if (tables[task]["model"] == m).any()]
                    if len(missing) == 2:  # both were run: dev scores are what is missing
                        evidence.append(f"{task}: {w} vs {loser}: {NO_DEV}")
                    continue
                outcome = a.beats(b)
                outcomes.append(outcome)
                evidence.append(f"{task}: {a} vs {b} ({outcome})")
    return Verdict(claim, _combine(outcomes), "; ".join(evidence) or "no such models or tasks")


def phone_profile(table: pd.DataFrame, model: str, role: str) -> Verdict:
    """Speaker models: phones are best decoded early and fade with depth (the last frame-level
    layer is clearly worse than the best). Speech SSL: best at an intermediate layer."""
    rows = table[(table["model"] == model) & (table["layer"] != "weighted_sum")]
    rows = rows.sort_values("layer_index")
    if len(rows) < 3:
        return Verdict(f"{model}: phone information across depth", UNTESTED, "under 3 layers")
    higher = rows["metric"].iloc[0] == "accuracy"
    best = best_score(table, model)
    if best is None:
        return Verdict(f"{model}: phone information across depth", UNTESTED, NO_DEV)
    last = _score(rows.iloc[-1], higher)
    position = list(rows["layer"]).index(best.layer)
    if role == "speech_ssl":
        claim = f"{model} (speech SSL): phones peak in intermediate layers"
        inner = 0 < position < len(rows) - 1
        first = _score(rows.iloc[0], higher)
        outcome = _combine([best.beats(first), best.beats(last)]) if inner else NOT_REPRODUCED
        evidence = f"best {best}; first {first}; last {last}"
    else:
        claim = f"{model} (speaker model): phone information fades in deeper layers"
        early = position < len(rows) / 2
        outcome = best.beats(last) if early else NOT_REPRODUCED
        evidence = f"best {best} (layer {position + 1} of {len(rows)}); last {last}"
    return Verdict(claim, outcome, evidence)


def criteria_diverge(table: pd.DataFrame) -> Verdict:
    """Two speaker models trained from the same init by different criteria: their matching
    intermediate layers agree less than their first blocks do. The lowest of the m middle
    cells is picked on these same numbers, so its interval is widened to the Bonferroni level
    α/m first (the jackknife interval is symmetric: half-width × t_{α/2m} / t_{α/2}); a cell
    picked as the lowest would otherwise look clear too often."""
    a, b = table.attrs["model_a"], table.attrs["model_b"]
    claim = f"{a} vs {b}: different criteria give distinct intermediate layers"
    claim += f" ({table.attrs['level']} level)"
    same = table[table["layer_a"] == table["layer_b"]].reset_index(drop=True)
    if len(same) < 3:
        return Verdict(claim, UNTESTED, "fewer than 3 matching layers")
    first, middle = same.iloc[0], same.iloc[1:-1]
    lowest = middle.loc[middle["value"].idxmin()]
    high = lowest["value"] + (lowest["ci_high"] - lowest["value"]) * _bonferroni(table, len(middle))
    outcome = NOT_REPRODUCED
    if lowest["value"] < first["value"]:
        outcome = REPRODUCED if high < first["ci_low"] else WITHIN_NOISE
    evidence = (
        f"{table.attrs['measure']} ({table.attrs['level']}): {first['layer_a']} "
        f"{first['value']:.3f} [{first['ci_low']:.3f}, {first['ci_high']:.3f}], lowest middle "
        f"{lowest['layer_a']} {lowest['value']:.3f} (upper bound {high:.3f} at the "
        f"Bonferroni level for {len(middle)} middle layers)"
    )
    return Verdict(claim, outcome, evidence)


def _bonferroni(table: pd.DataFrame, cells: int) -> float:
    """How much wider a symmetric t interval gets at level α/cells than at α."""
    from scipy.special import stdtrit

    controls = table.attrs.get("controls", {})
    groups, confidence = controls.get("groups", 20), controls.get("confidence", 0.95)
    alpha = 1 - confidence
    return float(stdtrit(groups - 1, alpha / (2 * cells)) / stdtrit(groups - 1, alpha / 2))


def paper_contrasts(
    tables: Mapping[str, pd.DataFrame],
    tasks: Mapping[str, Mapping[str, Any]],
    cards: Iterable[Mapping[str, Any]],
    controls: Mapping[str, str],
    similarity: Iterable[pd.DataFrame],
    configured_roles: Mapping[str, str] | None = None,
) -> list[Verdict]:
    """Every contrast this run can test, in the paper's order."""
    roles = roles_of(cards, configured_roles)
    by_role = {r: [m for m, role in roles.items() if role == r] for r in set(ROLES.values())}
    speakers = [m for r in SPEAKER_ROLES for m in by_role[r]]
    groups = task_groups(tasks)
    verdicts = [
        _compare(
            "speaker models beat speech SSL on speaker tasks",
            tables,
            groups["speaker"],
            speakers,
            by_role["speech_ssl"],
        ),
        _compare(
            "speech SSL beats speaker models on content tasks",
            tables,
            groups["content"],
            by_role["speech_ssl"],
            speakers,
        ),
    ]
    for model, role in roles.items():
        own = groups["speaker" if role in SPEAKER_ROLES else "content"]
        control = controls.get(model, model)
        if control != model:
            claim = f"{model} learned: it beats its random init {control} on its own tasks"
            verdicts.append(_compare(claim, tables, own, [model], [control]))
    phones = [
        t
        for t, s in tasks.items()
        if TASK_KINDS[s["kind"]].layer_profile == "phones" and t in tables
    ]
    for model, role in roles.items():
        for task in phones:
            verdicts.append(phone_profile(tables[task], model, role))
    similarity = list(similarity)
    first_measure = similarity[0].attrs["measure"] if similarity else None
    for a in by_role["speaker_ssl"]:
        for b in by_role["supervised"]:
            verdicts += [
                criteria_diverge(t)
                for t in similarity
                if {t.attrs["model_a"], t.attrs["model_b"]} == {a, b}
                and t.attrs["measure"] == first_measure
            ]
    return verdicts
