"""Matplotlib figures for the report (Agg backend: no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from typing import Any  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from strata.similarity.matrix import matrix_of  # noqa: E402


def probe_curve(
    table: pd.DataFrame, task: str, metric: str, families: dict[str, list[str]] | None = None
) -> Figure:
    """Test score against relative depth, one colour per model family: a single model with its
    confidence band; a family trained with several seeds as one thin line per seed and their
    mean thick. The weighted-sum probe as a dotted line in the colour (the seeds' mean);
    chance dashed."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    layers, weighted = (
        table[table["layer"] != "weighted_sum"],
        table[table["layer"] == "weighted_sum"],
    )
    present = list(dict.fromkeys(layers["model"]))
    for family, members in _families(present, families).items():
        rows = layers[layers["model"].isin(members)].sort_values("layer_index")
        depth = rows["layer_index"] / (rows["num_layers"] - 1).clip(lower=1)
        if len(members) == 1:
            (line,) = ax.plot(depth, rows["test"], marker="o", markersize=3, label=family)
            ax.fill_between(
                depth, rows["ci_low"], rows["ci_high"], color=line.get_color(), alpha=0.2
            )
        else:
            mean = rows.assign(depth=depth).groupby("layer_index")[["depth", "test"]].mean()
            label = f"{family} (mean of {len(members)} seeds)"
            (line,) = ax.plot(mean["depth"], mean["test"], lw=2.2, marker="o", ms=3, label=label)
            for member in members:
                own = rows["model"] == member
                ax.plot(
                    depth[own], rows.loc[own, "test"], color=line.get_color(), lw=0.7, alpha=0.6
                )
        summed = weighted.loc[weighted["model"].isin(members), "test"]
        if len(summed):
            ax.axhline(summed.mean(), color=line.get_color(), linestyle=":", linewidth=1)
    ax.axhline(table["chance"].iloc[0], color="grey", linestyle="--", label="chance")
    ax.set(xlabel="relative layer depth (0 = first, 1 = last)", ylabel=f"test {metric}")
    ax.set_title(f"{task} (dotted: weighted sum; bands: 95 % interval; thin: seeds)", fontsize=9)
    top = np.nanmax(table[["test", "ci_high"]].to_numpy(dtype=float), initial=1.0)
    ax.set_ylim(0, max(1.02, top * 1.03))  # a PER can exceed 1: never clip a value
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _families(models: list[str], families: dict[str, list[str]] | None) -> dict[str, list[str]]:
    """The models grouped by configured family (in first-seen order); a model no family lists
    stands alone."""
    out: dict[str, list[str]] = {}
    for model in models:
        family = next((f for f, ms in (families or {}).items() if model in ms), model)
        out.setdefault(family, []).append(model)
    return out


USAGE_COLUMNS = 4  # usage panels per row


def usage_bars(usage: dict[str, dict], task: str) -> Figure:
    """Per model, the weighted-sum probe's measured layer usage (each layer's share
    ‖w_l A_l X_l‖ of the weighted sum on dev) against layer, the softmax weight as a line."""
    columns = min(len(usage), USAGE_COLUMNS)
    rows = -(-len(usage) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.0 * columns, 2.8 * rows), squeeze=False
    )  # panels wrap: the figure stays within a 1,400-px window at the report's 110 dpi
    for ax in axes.ravel()[len(usage) :]:
        ax.set_axis_off()
    for ax, (model, record) in zip(axes.ravel(), usage.items(), strict=False):
        ax.bar(range(len(record["usage"])), record["usage"], color="#4c72b0", label="share")
        ax.plot(record["weights"], color="#dd8452", marker=".", lw=1, label="softmax weight")
        ax.set_xticks(range(len(record["layers"])), record["layers"], rotation=70, fontsize=6)
        ax.set_title(model, fontsize=9)
        ax.set_ylabel("share of the weighted sum (dev)", fontsize=7)
    axes[0][0].legend(fontsize=6, frameon=False)
    fig.suptitle(f"{task}: layer usage of the weighted-sum probe", fontsize=9)
    fig.tight_layout()
    return fig


SIGNIFICANCE = 0.05  # family-wise: cells whose max-T adjusted p exceeds this get a grey cross


def _colour(props: dict[str, Any], values: np.ndarray) -> dict[str, Any]:
    """Diverging around 0 where the measure can go negative (negative values visible, not
    clipped); reversed for distances; a fixed [0, 1] scale otherwise."""
    low, high = props["value_range"]
    if low < 0:
        floor = min(-0.05, float(np.nanmin(values)))
        return {"cmap": "RdBu_r", "norm": TwoSlopeNorm(vmin=floor, vcenter=0.0, vmax=high)}
    if not props["higher_is_similar"]:
        return {"cmap": "viridis_r", "vmin": low, "vmax": high}
    return {"cmap": "magma", "vmin": low, "vmax": high}


def _heatmap(ax, fig, matrix: pd.DataFrame, p: pd.DataFrame | None, style, title: str):
    image = ax.imshow(matrix.to_numpy(), origin="lower", **style)
    n_rows, n_cols = matrix.shape
    ax.set_xticks(range(n_cols), matrix.columns, rotation=60, ha="right", fontsize=6)
    ax.set_yticks(range(n_rows), matrix.index, fontsize=6)
    weighted_by_rows = not matrix.attrs.get("properties", {}).get("symmetric", True)
    ylabel = (matrix.index.name or "") + (" (weights: rows)" if weighted_by_rows else "")
    ax.set(xlabel=matrix.columns.name or "", ylabel=ylabel)
    if p is not None:
        above = p.to_numpy() > SIGNIFICANCE
        rows, cols = np.nonzero(above)
        ax.scatter(cols, rows, marker="x", s=12, c="0.55", linewidths=0.8)
        title += f"\n{above.size - int(above.sum())} of {above.size} cells p_FWER ≤ {SIGNIFICANCE}"
    ax.set_title(title, fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.046)


def similarity_panels(tables: list[pd.DataFrame], titles: list[str]) -> Figure:
    """One heatmap per table (a pair, then its random-twin control), then the first table's
    interval widths. Rows: layers of A (first at the bottom); columns: layers of B."""
    pivot = [matrix_of(t) for t in tables]
    props = tables[0].attrs["properties"]
    style = _colour(props, np.concatenate([m.to_numpy().ravel() for m in pivot]))
    n_rows, n_cols = pivot[0].shape
    fig, axes = plt.subplots(
        1,
        len(pivot) + 1,
        figsize=((len(pivot) + 1) * (1.6 + 0.32 * n_cols), 1.3 + 0.3 * n_rows),
        squeeze=False,
    )
    for ax, m, t, title in zip(axes[0], pivot, tables, titles, strict=False):
        p = matrix_of(t, "p_fwer")  # family-wise over the matrix (max-T)
        _heatmap(ax, fig, m, None if p.isna().all().all() else p, style, title)
    first = tables[0]
    width = matrix_of(first, "ci_high") - matrix_of(first, "ci_low")
    _heatmap(
        axes[0][-1],
        fig,
        width,
        None,
        {"cmap": "Greys", "vmin": 0.0},
        "CI width",
    )
    fig.tight_layout()
    return fig


def cross_model_lines(table: pd.DataFrame, title: str) -> Figure:
    """Each layer of A (a line, darker = deeper) against every layer of B, with intervals."""
    rows, cols = table.attrs["rows"], table.attrs["columns"]
    fig, ax = plt.subplots(figsize=(max(5.5, 0.35 * len(cols) + 3), 3.0))
    colours = plt.get_cmap("viridis")(np.linspace(0.9, 0.0, len(rows)))
    for colour, layer in zip(colours, rows, strict=True):
        part = table[table["layer_a"] == layer].set_index("layer_b").loc[cols]
        x = np.arange(len(cols))
        ax.plot(x, part["value"], color=colour, lw=1.2, label=layer)
        ax.fill_between(x, part["ci_low"], part["ci_high"], color=colour, alpha=0.15, lw=0)
    ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right", fontsize=6)
    ax.set(xlabel=table.attrs["model_b"], ylabel=table.attrs["measure"])
    ax.axhline(0, color="0.7", lw=0.6)
    ax.legend(
        title=table.attrs["model_a"],
        fontsize=5,
        title_fontsize=6,
        ncol=2,
        frameon=False,
        bbox_to_anchor=(1.01, 1),
        loc="upper left",
    )
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


def loss_curves(losses: dict[str, pd.DataFrame]) -> Figure:
    """Training loss per step, one panel per trained model (objectives differ in scale); the
    thin line is every step, the thick one a running mean over an epoch."""
    fig, axes = plt.subplots(1, len(losses), figsize=(3.6 * len(losses), 3.0), squeeze=False)
    for ax, (model, table) in zip(axes[0], losses.items(), strict=True):
        per_epoch = int(table.groupby("epoch").size().max())
        ax.plot(table["step"], table["loss"], linewidth=0.6, alpha=0.4)
        smooth = table["loss"].rolling(per_epoch, min_periods=1).mean()
        ax.plot(table["step"], smooth, linewidth=1.8, color="C0")
        objective = table.attrs.get("objective", "")
        ax.set(xlabel="step", ylabel="loss", title=f"{model} ({objective})")
        ax.title.set_fontsize(9)
    fig.tight_layout()
    return fig
