"""The report's verdicts as data and the README's results read from them."""

import numpy as np
import pandas as pd

from strata.report.contrasts import MIXED, Comparison, Verdict, verdict_table
from strata.report.results import claims, family_of, seed_spread
from strata.stats import REPRODUCED, UNTESTED, WITHIN_NOISE, Difference


def comparison(label, value, p):
    return Comparison(label, Difference(value, value - 0.1, value + 0.1, p, 16), +1, p * 3)


def test_verdict_rows_keep_each_seeds_outcome_and_the_claims(tmp_path):
    mixed = Verdict("trained beats init")
    mixed.by_seed["s0"] = [comparison("a_s0 vs r_s0", 0.3, 1e-4)]
    mixed.by_seed["s1"] = [comparison("a_s1 vs r_s1", 0.05, 0.2)]
    single = Verdict("one model claim")
    single.by_seed[""] = [comparison("g vs h", 0.2, 1e-3)]
    table = verdict_table([mixed, single, Verdict("nothing to compare")])
    assert list(table["comparison"].fillna("")) == ["a_s0 vs r_s0", "a_s1 vs r_s1", "g vs h", ""]
    assert np.allclose(table["p_holm"][:3], [3e-4, 0.6, 3e-3])
    path = tmp_path / "verdicts.csv"
    table.to_csv(path, index=False)
    read = claims(pd.read_csv(path, dtype={"seed": str}))
    assert read["Holm-adjusted"].tolist() == [MIXED, REPRODUCED, UNTESTED]
    assert read["per seed (adjusted)"][0] == f"s0: {REPRODUCED}, s1: {WITHIN_NOISE}"
    assert read["per seed (adjusted)"][1] == "one model"


def test_seed_spread_is_mean_and_range_over_a_familys_seeds():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.5, 0.9, 3)
    best = pd.DataFrame({
        "model": ["m_s0", "m_s1", "m_s2", "ge2e"], "task": "sid", "test": [*scores, 0.8],
    })  # fmt: skip
    table = seed_spread(best)
    low, high = np.sort(scores)[[0, -1]]
    assert table.loc["m", "sid"] == f"{scores.mean():.3f} ({low:.3f}–{high:.3f})"
    assert table.loc["ge2e", "sid"] == "0.800"
    assert family_of("wavlm_mp_s12") == ("wavlm_mp", "12") and family_of("ge2e") == ("ge2e", "")
