"""Assemble results/report/: a self-contained index.html plus every figure as PNG."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import jinja2
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from strata.io import atomic_path
from strata.report.figures import probe_curve, similarity_heatmap
from strata.similarity import read_similarity


def best_layers(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per model × task, the layer with the best dev score (ties → shallower) and its test score."""
    rows = []
    for task, table in tables.items():
        for model, group in table.groupby("model", sort=False):
            best = group.sort_values(["dev", "layer_index"], ascending=[False, True]).iloc[0]
            rows.append(
                {
                    "model": model,
                    "task": task,
                    "best layer": best["layer"],
                    "dev": best["dev"],
                    "test": best["test"],
                }
            )
    return pd.DataFrame(rows, columns=["model", "task", "best layer", "dev", "test"])


def _save(fig: Figure, path: Path, provenance: str) -> str:
    """Write ``fig`` as PNG at ``path`` and return it base64-encoded for inlining."""
    buffer = io.BytesIO()
    fig.savefig(
        buffer, format="png", dpi=110, metadata={"Software": "strata", "Source": provenance}
    )
    plt.close(fig)
    data = buffer.getvalue()
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return base64.b64encode(data).decode()


def build_report(
    probe_tables: dict[str, Path],
    similarity_files: list[Path],
    model_cards: list[dict[str, Any]],
    run_info: dict[str, Any],
    out_html: Path,
    figure_dir: Path,
) -> None:
    """Render the report. ``probe_tables`` maps task name → aggregated TSV."""
    tables = {task: pd.read_csv(path, sep="\t") for task, path in probe_tables.items()}
    source = json.dumps(
        {k: run_info[k] for k in ("code_version", "config_sha256", "manifest_sha256")}
    )
    probes = []
    for task, table in tables.items():
        metric = table["metric"].iloc[0]
        png = _save(probe_curve(table, task, metric), figure_dir / f"probe_{task}.png", source)
        probes.append({"task": task, "metric": metric, "png": png})
    heatmaps = []
    for path in similarity_files:
        matrix = read_similarity(path)
        a, b, measure = matrix.attrs["model_a"], matrix.attrs["model_b"], matrix.attrs["measure"]
        title = f"{measure}: {a} × {b} (n={matrix.attrs['n']})"
        path = figure_dir / f"{measure}_{a}__{b}.png"
        png = _save(similarity_heatmap(matrix, title), path, source)
        heatmaps.append({"title": title, "png": png})
    best = best_layers(tables)
    template = jinja2.Environment(
        loader=jinja2.PackageLoader("strata.report", "templates"), autoescape=True
    ).get_template("index.html")
    page = template.render(
        probes=probes,
        heatmaps=heatmaps,
        best_table=best.to_html(index=False, float_format="{:.3f}".format, border=0),
        cards=model_cards,
        run=run_info,
    )
    with atomic_path(out_html) as tmp:
        tmp.write_text(page)
