"""The paper's contrasts, checked on this run's numbers and stated as reproduced or not.

Each contrast compares best-layer probe scores (layer chosen on dev, never on test) or
similarity cells between models in a role: ``speech_ssl`` (masked prediction), ``speaker_ssl``
(DINO) and ``supervised`` (AAM-softmax), known from a model's configured ``role`` or else its
card's training objective.

Two scores on the same test units are judged on their paired difference (:mod:`strata.stats`):
the same cluster draws for both sides (utterances; enrolment speakers for trials; for
similarity cells the same jackknife groups). A comparison is *reproduced* when the difference's
interval excludes 0 in the claimed direction, *within noise* when only the point estimate is
on the claimed side, *reversed* when the interval excludes 0 on the other side, else *not
reproduced*. Every comparison behind every claim is one family: Holm's adjustment over it is
shown beside each single result. A claim about a family of models trained with several seeds
is judged per seed (each trained member against the control it started from, members of two
families paired by seed): *reproduced* only when every seed's is, *mixed* when seeds disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from strata.probes.kinds import TASK_KINDS
from strata.stats import (
    NOT_REPRODUCED,
    REPRODUCED,
    REVERSED,
    UNTESTED,
    WITHIN_NOISE,
    Difference,
    holm,
    paired_difference,
    t_test,
)

ROLES = {"masked_prediction": "speech_ssl", "dino": "speaker_ssl", "aam_softmax": "supervised"}
SPEAKER_ROLES = ("speaker_ssl", "supervised")
MIXED = "mixed"
WEIGHTED = "weighted_sum"
# Worst first: a claim holds only as far as its weakest testable comparison, and is never
# reproduced while one of its comparisons could not be tested.
ORDER = (REVERSED, NOT_REPRODUCED, WITHIN_NOISE, UNTESTED, REPRODUCED)
NO_DEV = "no dev scores: a best layer chosen on test would favour models with more layers"

# (model, task, layer) -> the probe's per-unit test outcomes (strata.probes.units), or None.
UnitsOf = Callable[[str, str, str], Mapping[str, np.ndarray] | None]


@dataclass(frozen=True)
class Resampling:
    """How paired differences are resampled (the probe block's bootstrap settings)."""

    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0

    @property
    def alpha(self) -> float:
        return 1 - self.confidence


@dataclass
class Comparison:
    """One paired test: A − B, read for the claim "A is better" (``sign`` +1 when higher is
    better)."""

    label: str
    difference: Difference
    sign: int
    p_adjusted: float = float("nan")
    settled: str | None = None  # an outcome fixed without a test (a best layer misplaced)

    def outcome(self, alpha: float, adjusted: bool = False) -> str:
        if self.settled is not None:
            return self.settled
        p = self.p_adjusted if adjusted else self.difference.p
        return self.difference.verdict(self.sign, alpha, p)

    def __str__(self) -> str:
        d = self.difference
        if self.settled is not None:
            return f"{self.label}: {self.settled}"
        if not np.isfinite(d.p):
            return f"{self.label}: Δ {d.value:+.3f} (too few units to test)"
        holm = f", Holm {self.p_adjusted:.2g}" if np.isfinite(self.p_adjusted) else ""
        return (
            f"{self.label}: Δ {d.value:+.3f} [{d.ci_low:+.3f}, {d.ci_high:+.3f}], p {d.p:.2g}{holm}"
        )


@dataclass
class Verdict:
    """A claim, its comparisons grouped by seed ("" for a claim without seeds), and notes
    on what could not be compared."""

    claim: str
    by_seed: dict[str, list[Comparison]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    alpha: float = 0.05

    def seed_outcomes(self, adjusted: bool) -> dict[str, str]:
        return {
            seed: combine([c.outcome(self.alpha, adjusted) for c in comparisons])
            for seed, comparisons in self.by_seed.items()
        }

    def outcome_of(self, adjusted: bool) -> str:
        outcomes = set(self.seed_outcomes(adjusted).values())
        if not outcomes:
            return UNTESTED
        return outcomes.pop() if len(outcomes) == 1 else MIXED

    @property
    def outcome(self) -> str:
        """The single (unadjusted) verdict."""
        return self.outcome_of(adjusted=False)

    @property
    def adjusted(self) -> str:
        """The verdict after Holm's adjustment over the report's family of comparisons."""
        return self.outcome_of(adjusted=True)

    @property
    def comparisons(self) -> list[Comparison]:
        return [c for group in self.by_seed.values() for c in group]

    @property
    def evidence(self) -> str:
        lines = [str(c) for c in self.comparisons] + self.notes
        return "; ".join(lines) or "no such models or tasks"


def combine(outcomes: list[str]) -> str:
    """The weakest of a seed's comparisons (a claim holds only where all of them do; one that
    could not be tested keeps it from being reproduced, not from being within noise)."""
    for outcome in ORDER:
        if outcome in outcomes:
            return outcome
    return UNTESTED


def adjust(verdicts: list[Verdict]) -> int:
    """Holm over every comparison of every verdict (one family); returns its size."""
    comparisons = [c for v in verdicts for c in v.comparisons]
    adjusted = holm([c.difference.p for c in comparisons])
    for c, p in zip(comparisons, adjusted, strict=True):
        c.p_adjusted = float(p)
    return int(np.isfinite([c.difference.p for c in comparisons]).sum())


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


def _layers(table: pd.DataFrame, model: str) -> pd.DataFrame:
    return table[(table["model"] == model) & (table["layer"] != WEIGHTED)]


def has_dev(table: pd.DataFrame, model: str) -> bool:
    rows = _layers(table, model)
    return not rows.empty and bool(rows["dev"].notna().all())


def higher_is_better(table: pd.DataFrame) -> bool:
    return table["metric"].iloc[0] == "accuracy"


def best_row(table: pd.DataFrame, model: str) -> pd.Series | None:
    """A model's best single layer on a task, chosen on dev (earlier layer on ties); None
    without the model's rows or without dev scores (test never chooses)."""
    if not has_dev(table, model):
        return None
    order = ["dev", "layer_index"]
    higher = higher_is_better(table)
    return _layers(table, model).sort_values(order, ascending=[not higher, True]).iloc[0]


class Judge:
    """Paired comparisons of probes on one run's per-unit test outcomes."""

    def __init__(self, tasks: Mapping[str, Mapping[str, Any]], units_of: UnitsOf, how: Resampling):
        self.tasks, self.units_of, self.how = tasks, units_of, how

    def probes(self, task: str, a: tuple[str, str], b: tuple[str, str], sign: int) -> Comparison:
        """Probe ``a`` (model, layer) against ``b`` on ``task``'s shared test units."""
        label = f"{task}: {a[0]}/{a[1]} vs {b[0]}/{b[1]}"
        units_a, units_b = self.units_of(a[0], task, a[1]), self.units_of(b[0], task, b[1])
        if units_a is None or units_b is None:
            nan = float("nan")
            return Comparison(label, Difference(nan, nan, nan, nan, 0), sign)
        kind = TASK_KINDS[self.tasks[task]["kind"]]
        units_b = aligned(units_a, units_b, label)
        how = self.how
        difference = paired_difference(
            kind.statistic(units_a),
            kind.statistic(units_b),
            units_a["unit"],
            how.resamples,
            how.confidence,
            how.seed,
        )
        return Comparison(label, difference, sign)


def aligned(
    a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray], label: str
) -> dict[str, np.ndarray]:
    """``b``'s rows in ``a``'s order by key; both must hold the same test units."""
    keys_a, keys_b = list(a["key"]), list(b["key"])
    if set(keys_a) != set(keys_b) or len(keys_a) != len(keys_b):
        raise ValueError(f"{label}: the two probes were scored on different test units")
    position = {k: i for i, k in enumerate(keys_b)}
    order = np.array([position[k] for k in keys_a], dtype=np.int64)
    return {column: np.asarray(values)[order] for column, values in b.items()}


def _best_pair(
    judge: Judge, tables, task: str, winner: str, loser: str, verdict: Verdict, seed: str
) -> None:
    table = tables[task]
    a, b = best_row(table, winner), best_row(table, loser)
    if a is None or b is None:
        if has_rows(table, winner) and has_rows(table, loser):
            verdict.notes.append(f"{task}: {winner} vs {loser}: {NO_DEV}")
        return
    sign = 1 if higher_is_better(table) else -1
    comparison = judge.probes(task, (winner, a["layer"]), (loser, b["layer"]), sign)
    verdict.by_seed.setdefault(seed, []).append(uncapped(comparison, a, b))


CAPPED = "ended at its epoch cap while still improving"


def uncapped(comparison: Comparison, *rows: pd.Series) -> Comparison:
    """The comparison, or (a probe it reads stopped by its epoch cap while improving: its score
    is the budget's) not testable, named."""
    capped = [f"{r['model']}/{r['layer']}" for r in rows if _flag(r.get("at_cap"))]
    if capped:
        comparison.label += f" ({', '.join(capped)} {CAPPED})"
        comparison.settled = UNTESTED
    return comparison


def has_rows(table: pd.DataFrame, model: str) -> bool:
    return bool((table["model"] == model).any())


def phone_profile(
    judge: Judge, table: pd.DataFrame, task: str, model: str, role: str, verdict: Verdict, seed
) -> None:
    """Speaker models: phones are best decoded in the first half of the frame-level layers and
    the last is worse than the best. Speech SSL: the best is an intermediate layer, better than
    both the first and the last. Best vs first/last are paired on the same utterances."""
    rows = _layers(table, model).sort_values("layer_index")
    if len(rows) < 3:
        verdict.notes.append(f"{model}: under 3 layers")
        return
    best = best_row(table, model)
    if best is None:
        verdict.notes.append(f"{model}: {NO_DEV}")
        return
    sign = 1 if higher_is_better(table) else -1
    layers = list(rows["layer"])
    position = layers.index(best["layer"])
    if role == "speech_ssl":
        others, placed = [layers[0], layers[-1]], 0 < position < len(layers) - 1
    else:
        others, placed = [layers[-1]], position < len(layers) / 2
    group = verdict.by_seed.setdefault(seed, [])
    if not placed:
        where = f"{task}: {model}'s best layer on dev is {best['layer']} ({position + 1} of "
        nan = float("nan")
        missed = Difference(nan, nan, nan, nan, 0)
        group.append(Comparison(f"{where}{len(layers)})", missed, sign, settled=NOT_REPRODUCED))
        return
    for other in others:
        comparison = judge.probes(task, (model, best["layer"]), (model, other), sign)
        group.append(uncapped(comparison, best, rows[rows["layer"] == other].iloc[0]))


def criteria_diverge(table: pd.DataFrame, how: Resampling) -> Comparison:
    """Two speaker models trained from the same init by different criteria: their first blocks
    agree more than their least similar matching intermediate layers. The difference first −
    lowest middle cell is paired over the same jackknife groups; the lowest of m middle cells
    is picked on these very numbers, so its p is Bonferroni-multiplied by m (and the interval
    widened to α/m) — a cell picked as the lowest would otherwise look clear too often."""

    same = table[table["layer_a"] == table["layer_b"]].reset_index(drop=True)
    first, middle = same.iloc[0], same.iloc[1:-1]
    lowest = middle.loc[middle["value"].idxmin()]
    label = (
        f"{table.attrs['measure']} ({table.attrs['level']}): {table.attrs['model_a']} × "
        f"{table.attrs['model_b']} {first['layer_a']} {first['value']:.3f} vs lowest middle "
        f"{lowest['layer_a']} {lowest['value']:.3f} (of {len(middle)})"
    )
    value = float(first["value"] - lowest["value"])
    left_out = np.asarray(first.get("jackknife", [])) - np.asarray(lowest.get("jackknife", []))
    groups = len(left_out)
    if groups < 2:
        nan = float("nan")
        return Comparison(label, Difference(value, nan, nan, nan, groups), 1)
    se = float(np.sqrt((groups - 1) / groups * ((left_out - left_out.mean()) ** 2).sum()))
    single = t_test(value, se, groups, 1 - how.alpha / len(middle))
    p = min(1.0, single.p * len(middle))
    return Comparison(label, Difference(value, single.ci_low, single.ci_high, p, groups), 1)


@dataclass
class Members:
    """Configured families and their seeded members (member → seed label, "" unseeded)."""

    families: dict[str, list[str]]

    @property
    def seed_of(self) -> dict[str, str]:
        out = {}
        for name, members in self.families.items():
            for m in members:
                out[m] = m[len(name) + 1 :] if len(members) > 1 or m != name else ""
        return out

    def family_of(self, model: str) -> str:
        for name, members in self.families.items():
            if model in members:
                return name
        return model

    def paired(self, a: str, b: str) -> list[tuple[str, str, str]]:
        """(member of a, member of b, seed label): by seed when both are seeded, else every
        member of the seeded side against the other."""
        ma, mb = self.families.get(a, [a]), self.families.get(b, [b])
        seed = self.seed_of
        if len(ma) > 1 and len(mb) > 1:
            by_seed = {seed.get(m, m): m for m in mb}
            return [(x, by_seed[seed[x]], seed[x]) for x in ma if seed[x] in by_seed]
        return [(x, y, seed.get(x) or seed.get(y, "")) for x in ma for y in mb]


def paper_contrasts(
    tables: Mapping[str, pd.DataFrame],
    tasks: Mapping[str, Mapping[str, Any]],
    cards: Iterable[Mapping[str, Any]],
    controls: Mapping[str, str],
    similarity: Iterable[pd.DataFrame],
    configured_roles: Mapping[str, str] | None = None,
    units_of: UnitsOf | None = None,
    families: Mapping[str, list[str]] | None = None,
    how: Resampling | None = None,
) -> list[Verdict]:
    """Every contrast this run can test, in the paper's order, Holm-adjusted as one family."""
    how = how or Resampling()
    judge = Judge(tasks, units_of or (lambda *_: None), how)
    roles = roles_of(cards, configured_roles)
    members = Members(dict(families or {m: [m] for m in roles}))
    family_roles: dict[str, str] = {}
    for model, role in roles.items():
        family_roles.setdefault(members.family_of(model), role)
    by_role = {r: [f for f, fr in family_roles.items() if fr == r] for r in set(ROLES.values())}
    speakers = [f for r in SPEAKER_ROLES for f in by_role[r]]
    groups = task_groups(tasks)

    def verdict(claim: str) -> Verdict:
        return Verdict(claim, alpha=how.alpha)

    def compare(claim, task_names, winners, losers, pairs=None) -> Verdict:
        v = verdict(claim)
        for task in (t for t in task_names if t in tables):
            for w in winners:
                for loser in losers:
                    for a, b, seed in pairs or members.paired(w, loser):
                        _best_pair(judge, tables, task, a, b, v, seed)
        return v

    verdicts = [
        compare(
            "speaker models beat speech SSL on speaker tasks",
            groups["speaker"],
            speakers,
            by_role["speech_ssl"],
        ),
        compare(
            "speech SSL beats speaker models on content tasks",
            groups["content"],
            by_role["speech_ssl"],
            speakers,
        ),
    ]
    seed_of = members.seed_of
    for family, role in family_roles.items():
        own = groups["speaker" if role in SPEAKER_ROLES else "content"]
        trained = [m for m in members.families.get(family, [family]) if m in roles]
        pairs = [(m, controls.get(m, m), seed_of.get(m, "")) for m in trained]
        pairs = [p for p in pairs if p[1] != p[0]]
        if pairs:
            start = members.family_of(pairs[0][1])
            claim = f"{family} learned: it beats its random init {start} on its own tasks"
            verdicts.append(compare(claim, own, [family], [start], pairs))
    phones = [
        t
        for t, s in tasks.items()
        if TASK_KINDS[s["kind"]].layer_profile == "phones" and t in tables
    ]
    for family, role in family_roles.items():
        for task in phones:
            if role == "speech_ssl":
                claim = f"{family} (speech SSL): phones peak in intermediate layers"
            else:
                claim = f"{family} (speaker model): phone information fades in deeper layers"
            v = verdict(claim)
            for m in members.families.get(family, [family]):
                phone_profile(judge, tables[task], task, m, role, v, seed_of.get(m, ""))
            verdicts.append(v)
    verdicts += _criteria(list(similarity), by_role, members, how, verdict)
    adjust(verdicts)
    return verdicts


def _criteria(similarity, by_role, members: Members, how: Resampling, verdict) -> list[Verdict]:
    """The criteria contrast per (speaker SSL, supervised) family pair and level, seed by seed
    (the first configured measure)."""
    first_measure = similarity[0].attrs["measure"] if similarity else None
    out = []
    for a in by_role["speaker_ssl"]:
        for b in by_role["supervised"]:
            for level in dict.fromkeys(t.attrs["level"] for t in similarity):
                v = verdict(f"{a} vs {b}: different criteria give distinct intermediate layers "
                            f"({level} level)")  # fmt: skip
                for x, y, seed in members.paired(a, b):
                    for t in similarity:
                        attrs = t.attrs
                        if {attrs["model_a"], attrs["model_b"]} != {x, y}:
                            continue
                        if attrs["measure"] != first_measure or attrs["level"] != level:
                            continue
                        if (t["layer_a"] == t["layer_b"]).sum() < 3:
                            v.notes.append(f"{x} × {y}: fewer than 3 matching layers")
                            continue
                        v.by_seed.setdefault(seed, []).append(criteria_diverge(t, how))
                if v.by_seed or v.notes:
                    out.append(v)
    return out


def _flag(value: Any) -> bool:
    """A summary's boolean column, where a row without it (NaN) is False."""
    return bool(pd.notna(value) and value)


VERDICT_COLUMNS = [
    "claim", "outcome", "adjusted", "seed", "seed_adjusted", "comparison", "delta", "ci_low",
    "ci_high", "p", "p_holm", "settled",
]  # fmt: skip


def verdict_table(verdicts: Iterable[Verdict]) -> pd.DataFrame:
    """One row per comparison behind each claim (a claim with none: one row), with the claim's
    single and Holm-adjusted outcomes and its seed's adjusted one: the report's verdicts as
    data (``results/report/verdicts.csv``)."""
    rows = []
    for v in verdicts:
        claim = {"claim": v.claim, "outcome": v.outcome, "adjusted": v.adjusted}
        per_seed = v.seed_outcomes(adjusted=True)
        for seed, comparisons in v.by_seed.items():
            for c in comparisons:
                d = c.difference
                rows.append(claim | {
                    "seed": seed, "seed_adjusted": per_seed[seed], "comparison": c.label,
                    "delta": d.value, "ci_low": d.ci_low, "ci_high": d.ci_high, "p": d.p,
                    "p_holm": c.p_adjusted, "settled": c.settled,
                })  # fmt: skip
        if not v.comparisons:
            rows.append(claim)
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS)
