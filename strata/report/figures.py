"""Matplotlib figures for the report (Agg backend: no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def probe_curve(table: pd.DataFrame, task: str, metric: str) -> Figure:
    """Test score against relative depth, one line per model with its confidence band; the
    weighted-sum probe as a dotted line in the model's colour; chance dashed."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    layers, weighted = (
        table[table["layer"] != "weighted_sum"],
        table[table["layer"] == "weighted_sum"],
    )
    for model, rows in layers.groupby("model", sort=False):
        rows = rows.sort_values("layer_index")
        depth = rows["layer_index"] / (rows["num_layers"] - 1).clip(lower=1)
        (line,) = ax.plot(depth, rows["test"], marker="o", markersize=3, label=model)
        ax.fill_between(depth, rows["ci_low"], rows["ci_high"], color=line.get_color(), alpha=0.2)
        for value in weighted.loc[weighted["model"] == model, "test"]:
            ax.axhline(value, color=line.get_color(), linestyle=":", linewidth=1)
    ax.axhline(table["chance"].iloc[0], color="grey", linestyle="--", label="chance")
    ax.set(xlabel="relative layer depth (0 = first, 1 = last)", ylabel=f"test {metric}")
    ax.set_title(f"{task} (dotted: weighted sum; bands: 95 % bootstrap)", fontsize=9)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def usage_bars(usage: dict[str, dict], task: str) -> Figure:
    """Per model, the weighted-sum probe's layer usage w_l·‖A_l‖ (normalised) against layer."""
    fig, axes = plt.subplots(1, len(usage), figsize=(3.2 * len(usage), 2.8), squeeze=False)
    for ax, (model, record) in zip(axes[0], usage.items(), strict=True):
        ax.bar(range(len(record["usage"])), record["usage"], color="#4c72b0")
        ax.set_xticks(range(len(record["layers"])), record["layers"], rotation=70, fontsize=6)
        ax.set_title(model, fontsize=9)
        ax.set_ylabel("usage", fontsize=8)
    fig.suptitle(f"{task}: layer usage of the weighted-sum probe", fontsize=9)
    fig.tight_layout()
    return fig


def similarity_heatmap(matrix: pd.DataFrame, title: str) -> Figure:
    """Rows: layers of model A (first at the bottom); columns: layers of model B."""
    n_rows, n_cols = matrix.shape
    fig, ax = plt.subplots(figsize=(1.2 + 0.45 * n_cols, 1.0 + 0.4 * n_rows))
    image = ax.imshow(matrix.to_numpy(), origin="lower", vmin=0, vmax=1, cmap="magma")
    ax.set_xticks(range(n_cols), matrix.columns, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(n_rows), matrix.index, fontsize=7)
    ax.set(xlabel=matrix.columns.name or "", ylabel=matrix.index.name or "")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig
