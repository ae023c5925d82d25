"""The report's "during training" section: a checkpoint series (:mod:`strata.models.series`)
read as trajectories.

Per series and task, a layer × checkpoint heatmap of the probe's test score (learning rate and
epoch chosen on dev, as everywhere) with the numbers and intervals in ``dynamics.csv``; per
series, each layer's similarity to the same layer of the series' first checkpoint (the random
init) and of its last; and the paper's per-family phone claim stated over time: from which
checkpoint on it holds (a paired test at every later checkpoint), or not within the series.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from strata.report.contrasts import Judge, Verdict, phone_profile
from strata.similarity.matrix import matrix_of
from strata.stats import REPRODUCED

Series = Mapping[str, list[tuple[str, int, str]]]  # name → (label, epoch or step, model)
TRAJECTORY = ["series", "checkpoint", "at", "model", "task", "metric", "layer", "layer_index"]
SCORES = ["dev", "test", "ci_low", "ci_high"]


def probe_trajectories(tables: Mapping[str, pd.DataFrame], series: Series) -> pd.DataFrame:
    """One row per series, checkpoint, task and layer (weighted sum left out): the probe
    summary's own numbers, checkpoints in training order."""
    rows = []
    for name, members in series.items():
        for order, (label, at, model) in enumerate(members):
            for task, table in tables.items():
                own = table[(table["model"] == model) & (table["layer"] != "weighted_sum")]
                for r in own.sort_values("layer_index").itertuples():
                    key = [name, label, at, model, task, r.metric, r.layer, r.layer_index]
                    rows.append([*key, *(getattr(r, c) for c in SCORES), order])
    columns = [*TRAJECTORY, *SCORES, "order"]
    return pd.DataFrame(rows, columns=columns).sort_values(
        ["series", "task", "order", "layer_index"], kind="stable", ignore_index=True
    )


def similarity_trajectories(tables: list[pd.DataFrame], series: Series) -> pd.DataFrame:
    """Per series, level, measure, checkpoint and layer: the similarity of the layer to the same
    layer of the first checkpoint (``to_init``) and of the last (``to_final``)."""
    by_pair = {
        (t.attrs["level"], t.attrs["measure"], t.attrs["model_a"], t.attrs["model_b"]): t
        for t in tables
    }
    rows = []
    for name, members in series.items():
        first, last = members[0][2], members[-1][2]
        for level, measure in dict.fromkeys((k[0], k[1]) for k in by_pair):
            for label, at, model in members:
                diagonals = {
                    reference: _diagonal(by_pair, level, measure, model, other)
                    for reference, other in (("to_init", first), ("to_final", last))
                }
                layers = next((list(d.index) for d in diagonals.values() if d is not None), [])
                for layer in layers:
                    row = [name, label, at, model, level, measure, layer]
                    rows.append(row + [_get(diagonals[k], layer) for k in ("to_init", "to_final")])
    columns = ["series", "checkpoint", "at", "model", "level", "measure", "layer"]
    return pd.DataFrame(rows, columns=[*columns, "to_init", "to_final"])


def _diagonal(by_pair, level, measure, a: str, b: str) -> pd.Series | None:
    """Layer → the similarity of ``a``'s layer to ``b``'s same layer (1 for a model and
    itself), or None where the pair was not compared."""
    if a == b:
        return None
    table = by_pair.get((level, measure, a, b))
    table = by_pair.get((level, measure, b, a)) if table is None else table
    if table is None:
        return None
    matrix = matrix_of(table)
    shared = [layer for layer in matrix.index if layer in matrix.columns]
    return pd.Series({layer: float(matrix.at[layer, layer]) for layer in shared})


def _get(diagonal: pd.Series | None, layer: str) -> float:
    return 1.0 if diagonal is None else float(diagonal.get(layer, np.nan))


def score_heatmap(rows: pd.DataFrame, title: str) -> Figure:
    """Layers (rows, first at the top) × checkpoints (columns, in training order): test score."""
    matrix = rows.pivot_table(index="layer_index", columns="order", values="test")
    labels = rows.drop_duplicates("order").set_index("order")["checkpoint"]
    layers = rows.drop_duplicates("layer_index").set_index("layer_index")["layer"]
    fig, ax = plt.subplots(figsize=(1.2 + 0.7 * matrix.shape[1], 1.0 + 0.32 * matrix.shape[0]))
    cmap = "viridis_r" if rows["metric"].iloc[0] in ("per", "eer") else "viridis"
    image = ax.imshow(matrix.to_numpy(dtype=float), aspect="auto", cmap=cmap)
    for (i, j), value in np.ndenumerate(matrix.to_numpy(dtype=float)):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6, color="white")
    ax.set_xticks(range(matrix.shape[1]), [labels[o] for o in matrix.columns], fontsize=7)
    ax.set_yticks(range(matrix.shape[0]), [layers[i] for i in matrix.index], fontsize=7)
    ax.set(xlabel="checkpoint", ylabel="layer")
    ax.set_title(title, fontsize=8)
    fig.colorbar(image, ax=ax, label=f"test {rows['metric'].iloc[0]}")
    fig.tight_layout()
    return fig


def similarity_lines(rows: pd.DataFrame, title: str) -> Figure:
    """Two panels, each layer one line over checkpoints: similarity to the init, to the final."""
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.2), sharey=True)
    order = list(dict.fromkeys(rows["checkpoint"]))
    colours = plt.cm.viridis(np.linspace(0, 1, max(1, rows["layer"].nunique())))
    for ax, column, what in zip(axes, ("to_init", "to_final"), ("init", "final"), strict=True):
        for colour, (layer, own) in zip(colours, rows.groupby("layer", sort=False), strict=True):
            x = [order.index(c) for c in own["checkpoint"]]
            ax.plot(x, own[column], marker="o", ms=3, color=colour, label=layer)
        ax.set_xticks(range(len(order)), order, fontsize=7)
        ax.set(xlabel="checkpoint", title=f"to the same layer of the {what}")
    axes[0].set_ylabel(rows["measure"].iloc[0])
    axes[1].legend(fontsize=6, ncols=2)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


@dataclass
class Onset:
    """A per-family claim over a series: each checkpoint's outcome, and from where it holds."""

    series: str
    claim: str
    outcomes: list[tuple[str, str]]  # (checkpoint, outcome)
    evidence: list[str] = field(default_factory=list)  # per checkpoint: its paired tests

    @property
    def statement(self) -> str:
        """ "from <checkpoint> on" (it holds there and at every later one), or "not within
        the series"."""
        holds = [outcome == REPRODUCED for _, outcome in self.outcomes]
        if not holds or not holds[-1]:
            return "not within the series"
        start = len(holds) - holds[::-1].index(False) if False in holds else 0
        return f"from {self.outcomes[start][0]} on"


def phone_onsets(
    tables: Mapping[str, pd.DataFrame],
    series: Series,
    roles: Mapping[str, str],
    phone_tasks: list[str],
    judge: Judge,
    alpha: float,
) -> list[Onset]:
    """The phone claim of each series' role (speaker models: phones fade in deeper layers;
    speech SSL: they peak in intermediate layers) tested at each checkpoint, the init
    included: a claim that already holds at the init is the architecture's, not training's."""
    onsets = []
    for name, members in series.items():
        # A trained series ends with the model itself (its objective's role); a user's series
        # only has members, its role is configured on its name.
        role = roles.get(members[-1][2]) or roles.get(name)
        if role is None:
            continue
        claim = (
            "phones peak in intermediate layers"
            if role == "speech_ssl"
            else "phone information fades in deeper layers"
        )
        for task in phone_tasks:
            onset = Onset(name, f"{task}: {claim}", [])
            for label, _, model in members:  # the init too: a claim it holds is not learnt
                verdict = Verdict(claim, alpha=alpha)
                phone_profile(judge, tables[task], task, model, role, verdict, "")
                onset.outcomes.append((label, verdict.outcome_of(False)))
                tests = [str(c) for c in verdict.by_seed.get("", [])]
                onset.evidence.append("; ".join(tests + verdict.notes))
            onsets.append(onset)
    return onsets


def onset_table(onsets: list[Onset]) -> pd.DataFrame:
    """One row per claim and checkpoint: its outcome, the paired tests behind it, and the
    claim's statement over the series."""
    columns = ["series", "claim", "checkpoint", "outcome", "evidence", "statement"]
    rows = [
        [o.series, o.claim, label, outcome, evidence, o.statement]
        for o in onsets
        for (label, outcome), evidence in zip(o.outcomes, o.evidence, strict=True)
    ]
    return pd.DataFrame(rows, columns=columns)


def members_only(series: Series) -> set[str]:
    """Models that are only there as a series' checkpoint (not its first or last): the main
    sections leave them out."""
    return {model for members in series.values() for _, _, model in members[1:-1]}
