"""Matplotlib figures for the report (Agg backend: no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def probe_curve(table: pd.DataFrame, task: str, metric: str) -> Figure:
    """Test score against relative depth, one line per model; chance as a dashed line."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for model, rows in table.groupby("model", sort=False):
        rows = rows.sort_values("layer_index")
        depth = rows["layer_index"] / (rows["num_layers"] - 1).clip(lower=1)
        ax.plot(depth, rows["test"], marker="o", label=model)
    ax.axhline(table["chance"].iloc[0], color="grey", linestyle="--", label="chance")
    ax.set(xlabel="relative layer depth (0 = first, 1 = last)", ylabel=f"test {metric}")
    ax.set_title(task)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
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
