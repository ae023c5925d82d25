"""The paper's contrasts are judged on paired differences over shared test units, Holm-adjusted
as one family, seed by seed; never on point estimates alone."""

import numpy as np
import pandas as pd
import pytest

from strata.report.contrasts import (
    MIXED,
    NOT_REPRODUCED,
    REPRODUCED,
    REVERSED,
    UNTESTED,
    WITHIN_NOISE,
    Resampling,
    best_row,
    criteria_diverge,
    paper_contrasts,
    roles_of,
    task_groups,
)

TASKS = {
    "sid": {"kind": "classification", "dataset": "d", "label": "speaker"},
    "asv": {"kind": "verification", "dataset": "d"},
    "pr": {"kind": "phoneme_recognition", "dataset": "d"},
    "ks": {"kind": "classification", "dataset": "d", "label": "keyword"},
    "er": {"kind": "classification", "dataset": "d", "label": "style"},
}
CARDS = [
    {"model": "ssl", "training": {"objective": "masked_prediction"}},
    {"model": "dino", "training": {"objective": "dino"}},
    {"model": "aam", "training": {"objective": "aam_softmax"}},
    {"model": "rand"},
]
N = 300  # test utterances every probe shares
HOW = Resampling(resamples=500)


class Run:
    """Probe tables and per-unit outcomes built together: test = the units' metric."""

    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)
        self.rows: dict[str, list[dict]] = {}
        self.units: dict[tuple[str, str, str], dict] = {}
        self.base = self.rng.random(N)  # shared difficulty: errors correlate across probes

    def layers(self, task, model, scores, dev=None):
        """Layers L0.. of ``model`` with test scores near ``scores`` (dev = the scores)."""
        metric = "accuracy" if TASKS[task]["kind"] == "classification" else "per"
        for i, score in enumerate(scores):
            units = self._units(metric, score)
            if metric == "accuracy":
                test = units["correct"].mean()
            else:
                test = units["edits"].sum() / units["length"].sum()
            self.units[(model, task, f"L{i}")] = units
            self.rows.setdefault(task, []).append(
                {"model": model, "layer": f"L{i}", "layer_index": i, "metric": metric,
                 "test": test, "dev": score if dev is None else dev[i]}
            )  # fmt: skip
        return self

    def _units(self, metric, score):
        keys = np.array([f"u{i}" for i in range(N)], dtype=object)
        noise = self.rng.random(N) * 0.4  # shared part 0.9: errors correlate, not coincide
        if metric == "accuracy":
            correct = ((self.base * 0.9 + noise - 0.2) < score).astype(np.float64)
            return {"key": keys, "unit": keys, "correct": correct}
        length = np.full(N, 10.0)
        edits = np.round(10 * score * 2 * (self.base * 0.9 + noise + 0.05))
        return {"key": keys, "unit": keys, "edits": edits, "length": length}

    def tables(self):
        return {task: pd.DataFrame(rows) for task, rows in self.rows.items()}

    def units_of(self, model, task, layer):
        return self.units.get((model, task, layer))

    def verdicts(self, controls=None, similarity=(), families=None, cards=CARDS):
        return paper_contrasts(
            self.tables(), TASKS, cards, controls or {}, similarity, None, self.units_of,
            families, HOW,
        )  # fmt: skip


def outcomes(found):
    return {v.claim: v.outcome for v in found}


def test_task_groups_by_kind_and_label():
    assert task_groups(TASKS) == {"speaker": ["sid", "asv"], "content": ["pr", "ks"]}


def test_a_clear_gap_is_reproduced_and_a_small_one_only_within_noise():
    run = Run().layers("sid", "ssl", [0.3, 0.4]).layers("sid", "dino", [0.7, 0.8])
    run.layers("sid", "aam", [0.85, 0.9])
    found = outcomes(run.verdicts())
    assert found["speaker models beat speech SSL on speaker tasks"] == REPRODUCED
    run = (
        Run().layers("sid", "ssl", [0.5]).layers("sid", "dino", [0.51]).layers("sid", "aam", [0.9])
    )
    assert (
        outcomes(run.verdicts())["speaker models beat speech SSL on speaker tasks"] == WITHIN_NOISE
    )


def test_a_clear_gap_the_other_way_is_reversed():
    run = Run().layers("ks", "ssl", [0.3]).layers("ks", "dino", [0.8]).layers("ks", "aam", [0.8])
    found = outcomes(run.verdicts())
    assert found["speech SSL beats speaker models on content tasks"] == REVERSED


def test_paired_beats_the_overlap_of_two_intervals():
    """Same utterances, errors shared: a gap whose two separate intervals overlap is clear on
    the paired difference."""
    from strata.probes.metrics import accuracy, bootstrap

    run = Run().layers("sid", "ssl", [0.60]).layers("sid", "dino", [0.68])
    run.layers("sid", "aam", [0.68])
    verdict = next(v for v in run.verdicts() if v.claim.startswith("speaker models beat"))
    assert verdict.outcome == REPRODUCED
    ssl, dino = (run.units[(m, "sid", "L0")]["correct"] for m in ("ssl", "dino"))
    a, b = (bootstrap(accuracy(x), np.arange(N), 500, 0.95, 0) for x in (ssl, dino))
    assert a.ci_high > b.ci_low  # the old rule: within noise


def test_a_trained_model_is_checked_against_its_control_on_its_own_tasks():
    run = Run().layers("sid", "aam", [0.9]).layers("sid", "rand", [0.5])
    found = outcomes(run.verdicts(controls={"aam": "rand", "dino": "dino"}))
    assert found["aam learned: it beats its random init rand on its own tasks"] == REPRODUCED
    assert not any(claim.startswith("dino learned") for claim in found)


def test_phone_profiles():
    def profile(model, role_card, scores):
        run = Run().layers("pr", model, scores)
        cards = [{"model": model, "training": {"objective": role_card}}]
        return next(v for v in run.verdicts(cards=cards) if "phone" in v.claim)

    assert profile("aam", "aam_softmax", [0.4, 0.5, 0.7, 0.9]).outcome == REPRODUCED
    assert profile("aam", "aam_softmax", [0.9, 0.7, 0.5, 0.4]).outcome == NOT_REPRODUCED
    assert profile("ssl", "masked_prediction", [0.6, 0.4, 0.3, 0.5]).outcome == REPRODUCED
    assert profile("ssl", "masked_prediction", [0.9, 0.7, 0.5, 0.4]).outcome == NOT_REPRODUCED
    assert profile("ssl", "masked_prediction", [0.6, 0.4]).outcome == UNTESTED


def similarity(first, middle, groups=20, spread=0.01, seed=0):
    """Matching layers' CKA (first block, middle ones, a last) with each group left out;
    the same group moves every cell alike (shared utterances)."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(0, spread, groups)
    values = [first, *middle, 0.9]
    layers = [f"L{i}" for i in range(len(values))]
    rows = []
    for i, a in enumerate(layers):
        for b in layers:
            v = values[i] if a == b else 0.0
            left = v + shared + rng.normal(0, spread / 4, groups)
            rows.append({"layer_a": a, "layer_b": b, "value": v, "jackknife": list(left)})
    table = pd.DataFrame(rows)
    table.attrs.update(model_a="dino", model_b="aam", measure="cka", level="frame")
    return table


@pytest.mark.parametrize(
    ("middle", "outcome"),
    [([0.5, 0.6], REPRODUCED), ([0.949], WITHIN_NOISE), ([0.97, 0.99], NOT_REPRODUCED)],
)
def test_criteria_diverge_on_the_paired_jackknife(middle, outcome):
    comparison = criteria_diverge(similarity(0.95, middle), HOW)
    comparison.p_adjusted = comparison.difference.p
    assert comparison.outcome(HOW.alpha) == outcome


def test_the_lowest_middle_cell_pays_for_being_picked():
    """The same gap with one middle cell, and with six of which it is the lowest: the p is
    multiplied by the six it was picked from."""
    one = criteria_diverge(similarity(0.95, [0.94]), HOW).difference
    six = criteria_diverge(similarity(0.95, [0.94, 0.96, 0.97, 0.98, 0.99, 0.999]), HOW).difference
    assert six.p == pytest.approx(min(1, 6 * one.p), rel=1e-6)


def test_seeds_are_judged_one_by_one_and_disagreement_is_mixed():
    run = Run()
    for seed, dino in (("s0", 0.9), ("s1", 0.5)):  # seed 1 learned nothing
        run.layers("sid", f"dino_{seed}", [dino]).layers("sid", f"rand_{seed}", [0.5])
    cards = [{"model": f"dino_{s}", "training": {"objective": "dino"}} for s in ("s0", "s1")]
    families = {"dino": ["dino_s0", "dino_s1"], "rand": ["rand_s0", "rand_s1"]}
    controls = {"dino_s0": "rand_s0", "dino_s1": "rand_s1"}
    found = run.verdicts(controls=controls, families=families, cards=cards)
    learned = next(v for v in found if v.claim.startswith("dino learned"))
    assert learned.claim == "dino learned: it beats its random init rand on its own tasks"
    assert learned.seed_outcomes(adjusted=True)["s0"] == REPRODUCED
    assert learned.seed_outcomes(adjusted=True)["s1"] in (WITHIN_NOISE, NOT_REPRODUCED)
    assert learned.outcome == learned.adjusted == MIXED


def test_holm_adjusts_over_every_comparison_of_the_report():
    """A gap clear alone is not clear among many: the adjusted p is Holm's over the family."""
    run = Run()
    for task in ("sid", "ks"):
        run.layers(task, "ssl", [0.5]).layers(task, "dino", [0.53]).layers(task, "aam", [0.53])
    found = run.verdicts()
    every = [c for v in found for c in v.comparisons]
    assert len(every) == 4
    ps = sorted(c.difference.p for c in every)
    adjusted = sorted(c.p_adjusted for c in every)
    assert adjusted[0] == pytest.approx(min(1, 4 * ps[0]))
    assert all(a >= p for a, p in zip(adjusted, ps, strict=True))


def test_a_configured_role_counts_like_a_training_objective():
    cards = [
        {"model": "wavlm"},
        {"model": "mine", "training": {"objective": "dino"}},
        {"model": "x"},
    ]
    assert roles_of(cards, {"wavlm": "speech_ssl"}) == {
        "wavlm": "speech_ssl",
        "mine": "speaker_ssl",
    }


def test_the_best_layer_is_chosen_on_dev_and_test_scores_never_change_it():
    rng = np.random.default_rng(0)
    scores = list(rng.uniform(0.1, 0.4, 8))
    base = Run().layers("pr", "dino", scores).tables()["pr"]
    chosen = best_row(base, "dino")["layer"]
    for _ in range(20):  # any test scores at all, dev unchanged
        shuffled = base.assign(test=rng.uniform(0, 0.5, len(base)))
        assert best_row(shuffled, "dino")["layer"] == chosen
    moved = base.assign(dev=base["dev"][::-1].to_numpy())  # dev decides
    assert best_row(moved, "dino")["layer"] == moved.loc[moved["dev"].idxmin(), "layer"] != chosen


def test_without_dev_scores_no_contrast_is_reproduced():
    nan = [float("nan")] * 2
    run = Run().layers("sid", "ssl", [0.4, 0.38], dev=nan)
    run.layers("sid", "dino", [0.9, 0.92], dev=nan).layers("sid", "aam", [0.9, 0.9], dev=nan)
    found = run.verdicts()
    speaker = next(v for v in found if v.claim.startswith("speaker models beat"))
    assert speaker.outcome == UNTESTED and "no dev scores" in speaker.evidence
    assert all(v.outcome != REPRODUCED for v in found)


def test_probes_scored_on_different_units_are_refused():
    run = Run().layers("sid", "ssl", [0.4]).layers("sid", "dino", [0.9]).layers("sid", "aam", [0.9])
    run.units[("dino", "sid", "L0")]["key"] = run.units[("dino", "sid", "L0")]["key"][::-1].copy()
    run.verdicts()  # the same keys in another order are aligned, not refused
    run.units[("dino", "sid", "L0")]["key"][0] = "elsewhere"
    with pytest.raises(ValueError, match="sid: dino/L0 vs ssl/L0: .*different test units"):
        run.verdicts()


def test_a_verdict_resting_on_a_probe_stopped_at_its_cap_is_not_testable():
    run = Run().layers("sid", "aam", [0.9]).layers("sid", "rand", [0.5])
    run.rows["sid"][0]["at_cap"] = True
    found = run.verdicts(controls={"aam": "rand"})
    learned = next(v for v in found if v.claim.startswith("aam learned"))
    assert learned.outcome == UNTESTED and "aam/L0 ended at its epoch cap" in learned.evidence


def test_an_untestable_comparison_keeps_a_claim_from_being_reproduced_only():
    from strata.report.contrasts import combine

    assert combine([REPRODUCED, UNTESTED]) == UNTESTED
    assert combine([WITHIN_NOISE, UNTESTED]) == WITHIN_NOISE
    assert combine([REPRODUCED, REVERSED, WITHIN_NOISE]) == REVERSED
    assert combine([]) == UNTESTED
