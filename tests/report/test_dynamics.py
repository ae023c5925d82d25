"""The "during training" section reads the probe summaries' and similarity tables' own numbers,
in training order, and states a claim over time only where it holds to the end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from strata.report import dynamics
from strata.stats import NOT_REPRODUCED, REPRODUCED, WITHIN_NOISE

SERIES = {"m_s0": [("e0", 0, "init_s0"), ("e2", 2, "m_s0@e2"), ("e10", 10, "m_s0")]}
LAYERS = ["layer_00", "layer_01", "layer_02"]


def _summary(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for model in ["other", "m_s0", "init_s0", "m_s0@e2"]:  # not in series order
        for i, layer in enumerate([*LAYERS, "weighted_sum"]):
            test = rng.uniform(0.2, 0.9)
            rows.append(
                {
                    "model": model,
                    "layer": layer,
                    "layer_index": i,
                    "metric": "per",
                    "dev": rng.uniform(0.2, 0.9),
                    "test": test,
                    "ci_low": test - 0.05,
                    "ci_high": test + 0.05,
                }
            )
    return pd.DataFrame(rows)


def test_trajectories_are_the_summary_rows_in_training_order():
    table = _summary(np.random.default_rng(0))
    out = dynamics.probe_trajectories({"phones": table}, SERIES)
    assert list(out["model"].drop_duplicates()) == ["init_s0", "m_s0@e2", "m_s0"]
    assert list(out["checkpoint"].drop_duplicates()) == ["e0", "e2", "e10"]
    assert "weighted_sum" not in set(out["layer"])
    for row in out.itertuples():
        source = table[(table["model"] == row.model) & (table["layer"] == row.layer)].iloc[0]
        for column in dynamics.SCORES:
            assert getattr(row, column) == source[column]


def test_the_heatmap_shows_exactly_the_summary_scores():
    table = _summary(np.random.default_rng(1))
    rows = dynamics.probe_trajectories({"phones": table}, SERIES)
    fig = dynamics.score_heatmap(rows, "m_s0: phones")
    shown = np.asarray(fig.axes[0].images[0].get_array())
    for j, (_, _, model) in enumerate(SERIES["m_s0"]):
        for i, layer in enumerate(LAYERS):
            expected = table[(table["model"] == model) & (table["layer"] == layer)]["test"]
            assert shown[i, j] == pytest.approx(float(expected.iloc[0]), abs=0)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["e0", "e2", "e10"]


def _similarity(a: str, b: str, diagonal: list[float]) -> pd.DataFrame:
    rows = [
        {"layer_a": la, "layer_b": lb, "value": diagonal[i] if i == j else 0.01}
        for i, la in enumerate(LAYERS)
        for j, lb in enumerate(LAYERS)
    ]
    table = pd.DataFrame(rows)
    table.attrs.update(level="utterance", measure="linear_cka", model_a=a, model_b=b)
    return table


def test_each_layer_is_compared_with_the_same_layer_of_the_init_and_the_final():
    tables = [
        _similarity("init_s0", "m_s0@e2", [0.9, 0.5, 0.3]),
        _similarity("m_s0@e2", "m_s0", [0.8, 0.7, 0.6]),
        _similarity("m_s0", "init_s0", [0.7, 0.4, 0.2]),  # either order is read
    ]
    out = dynamics.similarity_trajectories(tables, SERIES).set_index(["checkpoint", "layer"])
    assert out.loc[("e2", "layer_01"), "to_init"] == 0.5
    assert out.loc[("e2", "layer_02"), "to_final"] == 0.6
    assert out.loc[("e10", "layer_02"), "to_init"] == 0.2
    assert (out.loc["e0", "to_init"] == 1.0).all() and (out.loc["e10", "to_final"] == 1.0).all()
    assert out.loc[("e0", "layer_00"), "to_final"] == 0.7


@pytest.mark.parametrize(
    ("outcomes", "statement"),
    [
        ([REPRODUCED, REPRODUCED, REPRODUCED], "from e1 on"),
        ([NOT_REPRODUCED, REPRODUCED, REPRODUCED], "from e2 on"),
        ([REPRODUCED, WITHIN_NOISE, REPRODUCED], "from e3 on"),
        ([REPRODUCED, REPRODUCED, NOT_REPRODUCED], "not within the series"),
        ([], "not within the series"),
    ],
)
def test_a_claim_holds_from_the_first_checkpoint_after_which_it_always_holds(outcomes, statement):
    labelled = [(f"e{i + 1}", o) for i, o in enumerate(outcomes)]
    assert dynamics.Onset("m", "claim", labelled).statement == statement


def test_only_the_checkpoints_between_first_and_last_leave_the_main_sections():
    assert dynamics.members_only(SERIES) == {"m_s0@e2"}
