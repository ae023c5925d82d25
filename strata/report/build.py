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

from strata.io import atomic_path, read_json
from strata.models.twins import twin_of
from strata.report.figures import cross_model_lines, probe_curve, similarity_panels, usage_bars
from strata.similarity import read_similarity_table

SUMMARY = [
    "model",
    "task",
    "metric",
    "best layer",
    "chosen on",
    "test",
    "95% CI",
    "weighted sum",
    "weighted 95% CI",
    "chance",
]


def _ci(row: pd.Series) -> str:
    return f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


def best_layers(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per model × task, the layer with the best dev score (ties → shallower) with its test
    score and interval, beside the weighted-sum probe's. A task without dev scores (cosine
    verification) can only be read on test, and says so."""
    rows = []
    for task, table in tables.items():
        for model, group in table.groupby("model", sort=False):
            layers = group[group["layer"] != "weighted_sum"]
            higher = group["metric"].iloc[0] == "accuracy"
            key = "dev" if layers["dev"].notna().all() else "test"
            best = layers.sort_values([key, "layer_index"], ascending=[not higher, True]).iloc[0]
            weighted = group[group["layer"] == "weighted_sum"]
            rows.append(
                {
                    "model": model,
                    "task": task,
                    "metric": best["metric"],
                    "best layer": best["layer"],
                    "chosen on": key,
                    "test": best["test"],
                    "95% CI": _ci(best),
                    "weighted sum": weighted["test"].iloc[0] if len(weighted) else None,
                    "weighted 95% CI": _ci(weighted.iloc[0]) if len(weighted) else "",
                    "chance": best["chance"],
                }
            )
    return pd.DataFrame(rows, columns=SUMMARY)


def _below_chance(tables: dict[str, pd.DataFrame]) -> str:
    """Probes whose interval lies on the wrong side of chance, named; or "none"."""
    rows = pd.concat(tables.values()) if tables else pd.DataFrame()
    flagged = rows[rows["below_chance"].astype(bool)] if len(rows) else rows
    names = [f"{r.model}/{r.task}/{r.layer}" for r in flagged.itertuples()]
    return ", ".join(names) if names else "none"


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


def similarity_figures(files: list[Path], figure_dir: Path, source: str):
    """Per (level, measure, pair): the pair's heatmap, its random-twin control beside it and
    the interval widths; per cross-model pair, each layer of A against every layer of B (the
    first configured measure only)."""
    tables = [read_similarity_table(path) for path in files]
    by_key = {
        (t.attrs["level"], t.attrs["measure"], t.attrs["model_a"], t.attrs["model_b"]): t
        for t in tables
    }
    models = {k[2] for k in by_key} | {k[3] for k in by_key}
    first_measure = tables[0].attrs["measure"] if tables else None
    heatmaps, crosses = [], []
    for (level, measure, a, b), table in by_key.items():
        n = table.attrs["n"]
        title = f"{measure}, {level} level: {a} × {b} (n={n})"
        control = by_key.get((level, measure, twin_of(a, models), twin_of(b, models)))
        shown = [table] + ([control] if control is not None and control is not table else [])
        titles = [f"{a} × {b}"] + [
            f"control: {c.attrs['model_a']} × {c.attrs['model_b']}" for c in shown[1:]
        ]
        stem = f"{level}_{measure}_{a}__{b}"
        png = _save(similarity_panels(shown, titles), figure_dir / f"{stem}.png", source)
        heatmaps.append({"title": title, "png": png, "controls": titles[1:]})
        if a != b and measure == first_measure:
            path = figure_dir / f"{stem}_lines.png"
            png = _save(cross_model_lines(table, title), path, source)
            crosses.append({"title": title, "png": png})
    return heatmaps, crosses


def build_report(
    probe_tables: dict[str, Path],
    weighted_files: list[Path],
    similarity_files: list[Path],
    model_cards: list[dict[str, Any]],
    run_info: dict[str, Any],
    out_html: Path,
    figure_dir: Path,
) -> None:
    """Render the report. ``probe_tables`` maps task name → aggregated TSV."""
    tables = {task: pd.read_parquet(path) for task, path in probe_tables.items()}
    usage: dict[str, dict[str, dict]] = {}
    for path in weighted_files:
        record = read_json(path)
        usage.setdefault(record["task"], {})[record["model"]] = record
    source = json.dumps(
        {k: run_info[k] for k in ("code_version", "config_sha256", "manifest_sha256")}
    )
    probes = []
    for task, table in tables.items():
        metric = table["metric"].iloc[0]
        png = _save(probe_curve(table, task, metric), figure_dir / f"probe_{task}.png", source)
        probes.append({"task": task, "metric": metric, "png": png})
        if task in usage:
            path = figure_dir / f"usage_{task}.png"
            probes.append(
                {
                    "task": task,
                    "metric": "usage",
                    "png": _save(usage_bars(usage[task], task), path, source),
                }
            )
    heatmaps, crosses = similarity_figures(similarity_files, figure_dir, source)
    best = best_layers(tables)
    template = jinja2.Environment(
        loader=jinja2.PackageLoader("strata.report", "templates"), autoescape=True
    ).get_template("index.html")
    page = template.render(
        probes=probes,
        heatmaps=heatmaps,
        crosses=crosses,
        best_table=best.to_html(index=False, float_format="{:.3f}".format, border=0),
        below_chance=_below_chance(tables),
        cards=model_cards,
        run=run_info,
    )
    with atomic_path(out_html) as tmp:
        tmp.write_text(page)
