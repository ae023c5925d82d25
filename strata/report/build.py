"""Assemble results/report/: a self-contained index.html plus every figure as PNG."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import jinja2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from strata.io import atomic_path, read_json
from strata.plugins import file_stem
from strata.probes.kinds import TASK_KINDS
from strata.report import dynamics
from strata.report.contrasts import Judge, Resampling, paper_contrasts, roles_of, verdict_table
from strata.report.figures import (
    cross_model_lines,
    loss_curves,
    probe_curve,
    similarity_panels,
    usage_bars,
)
from strata.similarity import read_similarity_table
from strata.training import LOSSES
from strata.training import SUMMARY as TRAINING_SUMMARY

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
    score and interval, beside the weighted-sum probe's. Test never chooses: a model without
    dev scores on a task gets no best layer, and the row says so."""
    rows = []
    for task, table in tables.items():
        for model, group in table.groupby("model", sort=False):
            layers = group[group["layer"] != "weighted_sum"]
            higher = group["metric"].iloc[0] == "accuracy"
            weighted = group[group["layer"] == "weighted_sum"]
            row = {
                "model": model,
                "task": task,
                "metric": group["metric"].iloc[0],
                "weighted sum": weighted["test"].iloc[0] if len(weighted) else None,
                "weighted 95% CI": _ci(weighted.iloc[0]) if len(weighted) else "",
                "chance": group["chance"].iloc[0],
            }
            if layers["dev"].notna().all():
                order = ["dev", "layer_index"]
                best = layers.sort_values(order, ascending=[not higher, True]).iloc[0]
                row |= {"best layer": best["layer"], "chosen on": "dev", "test": best["test"]}
                row["95% CI"] = _ci(best)
            else:
                row |= {"best layer": "", "chosen on": "no dev scores: not chosen", "test": None}
                row["95% CI"] = ""
            rows.append(row)
    return pd.DataFrame(rows, columns=SUMMARY)


def _flagged(tables: dict[str, pd.DataFrame], column: str) -> str:
    """Probes whose ``column`` is true (below chance; stopped at the epoch cap while still
    improving), named; or "none"."""
    rows = pd.concat(tables.values()) if tables else pd.DataFrame()
    if not len(rows) or column not in rows:
        return "none"
    flagged = rows[rows[column].fillna(False).astype(bool)]
    names = [f"{r.model}/{r.task}/{r.layer}" for r in flagged.itertuples()]
    return ", ".join(names) if names else "none"


def units_reader(files: list[Path]):
    """(model, task, layer) -> a probe's per-unit test outcomes, read when first asked for;
    the files are results/probes/{model}/{dataset}/{task}/{layer}/test_units.parquet."""
    from strata.probes.units import read_units

    index = {}
    for path in map(Path, files):
        model, _, task, layer = path.parts[-5:-1]
        index[(model, task, "weighted_sum" if layer == "weighted" else layer)] = path
    cache: dict[tuple[str, str, str], Any] = {}

    def units_of(model: str, task: str, layer: str):
        key = (model, task, layer)
        if key not in index:
            return None
        if key not in cache:
            cache[key] = read_units(index[key])[0]
        return cache[key]

    return units_of


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


def similarity_figures(
    tables: list[pd.DataFrame], controls: dict[str, str], figure_dir: Path, source: str
):
    """Per (level, measure, pair): the pair's heatmap, its random-init control beside it and
    the interval widths; per cross-model pair, each layer of A against every layer of B (the
    first configured measure only)."""
    by_key = {
        (t.attrs["level"], t.attrs["measure"], t.attrs["model_a"], t.attrs["model_b"]): t
        for t in tables
    }
    first_measure = tables[0].attrs["measure"] if tables else None
    heatmaps, crosses = [], []
    for (level, measure, a, b), table in by_key.items():
        n = table.attrs["n"]
        title = f"{measure}, {level} level: {a} × {b} (n={n})"
        control = by_key.get((level, measure, controls.get(a, a), controls.get(b, b)))
        shown = [table] + ([control] if control is not None and control is not table else [])
        titles = [f"{a} × {b}"] + [
            f"control: {c.attrs['model_a']} × {c.attrs['model_b']}" for c in shown[1:]
        ]
        stem = f"{level}_{file_stem(measure)}_{a}__{b}"
        png = _save(similarity_panels(shown, titles), figure_dir / f"{stem}.png", source)
        heatmaps.append({"title": title, "png": png, "controls": titles[1:]})
        if a != b and measure == first_measure:
            path = figure_dir / f"{stem}_lines.png"
            png = _save(cross_model_lines(table, title), path, source)
            crosses.append({"title": title, "png": png})
    return heatmaps, crosses


TRAINING = ["model", "objective", "dataset", "utterances", "epochs", "steps"]


def _origin(run: Path) -> str:
    """Shipped in the repository (sha256-checked when the model was prepared), or trained here."""
    from strata.training import shipped

    found = shipped.origin(run)
    if found["source"] != "shipped":
        return found["source"]
    when = found["shipped"][:10]
    return f"shipped in {shipped.DIR}/{run.name}, trained {when}; {found['reproduce']}"


def _kept(summary: dict[str, Any]) -> str:
    kept = summary.get("snapshots", [])
    return "; ".join(
        f"{s['epoch']}: {s['step']}" + ("" if s["loss"] is None else f", {s['loss']:.3f}")
        for s in kept
    )


def training_section(
    runs: list[Path], figure_dir: Path, source: str
) -> tuple[str | None, str | None]:
    """The loss curves of every trained model (PNG, base64) and its summary table (HTML)."""
    if not runs:
        return None, None
    losses, rows = {}, []
    for run in runs:
        summary = read_json(run / TRAINING_SUMMARY)
        table = pd.read_parquet(run / LOSSES)
        table.attrs["objective"] = summary["objective"]
        losses[summary["model"]] = table
        minutes = table.groupby("epoch")["seconds"].max().sum() / 60
        rows.append(
            {key: summary[key] for key in TRAINING}
            | {
                "first epoch loss": summary["first_epoch_loss"],
                "last epoch loss": summary["last_epoch_loss"],
                "minutes": minutes,
                "device": summary["device"],
                "snapshots kept (epoch: step, loss)": _kept(summary),
                "checkpoint": _origin(run),
            }
        )
    png = _save(loss_curves(losses), figure_dir / "training_losses.png", source)
    html = pd.DataFrame(rows).to_html(index=False, float_format="{:.3f}".format, border=0)
    return png, html


def dynamics_section(
    tables: dict[str, pd.DataFrame],
    similarity: list[pd.DataFrame],
    series: dict[str, list[tuple[str, int, str]]],
    judge_of: tuple[Judge, float, dict[str, str], list[str]],
    figure_dir: Path,
    source: str,
) -> tuple[list[dict[str, Any]], list[pd.DataFrame]]:
    """Per series: its heatmaps, similarity lines and phone claim over time; and its three
    tables: the trajectories the figures read (probe scores, similarity) and the claims."""
    judge, alpha, roles, phone_tasks = judge_of
    scores = dynamics.probe_trajectories(tables, series)
    similar = dynamics.similarity_trajectories(similarity, series)
    onsets = dynamics.phone_onsets(tables, series, roles, phone_tasks, judge, alpha)
    sections = []
    for name in series:
        figures = []
        for task, rows in scores[scores["series"] == name].groupby("task", sort=False):
            title = f"{name}: {task}, test {rows['metric'].iloc[0]} per layer and checkpoint"
            png = _save(
                dynamics.score_heatmap(rows, title),
                figure_dir / f"during__{name}__{task}.png",
                source,
            )
            figures.append({"title": title, "png": png})
        for (level, measure), rows in similar[similar["series"] == name].groupby(
            ["level", "measure"], sort=False
        ):
            title = f"{name}: {measure}, {level} level, each layer to the same layer"
            stem = f"during__{name}__{level}_{file_stem(measure)}"
            png = _save(dynamics.similarity_lines(rows, title), figure_dir / f"{stem}.png", source)
            figures.append({"title": title, "png": png})
        claims = [o for o in onsets if o.series == name]
        sections.append({"series": name, "figures": figures, "claims": claims})
    return sections, [scores.drop(columns="order"), similar, dynamics.onset_table(onsets)]


def build_report(
    probe_tables: dict[str, Path],
    weighted_files: list[Path],
    similarity_files: list[Path],
    model_cards: list[dict[str, Any]],
    run_info: dict[str, Any],
    out_html: Path,
    figure_dir: Path,
    tasks: dict[str, dict[str, Any]] | None = None,
    controls: dict[str, str] | None = None,
    training_runs: list[Path] = (),
    roles: dict[str, str] | None = None,
    units_files: list[Path] = (),
    families: dict[str, list[str]] | None = None,
    resampling: dict[str, Any] | None = None,
    out_tables: tuple[Path, Path] | None = None,
    series: dict[str, list[tuple[str, int, str]]] | None = None,
    out_dynamics: tuple[Path, Path, Path] | None = None,
) -> None:
    """Render the report. ``probe_tables`` maps task name → aggregated table; ``tasks`` the
    tasks' config (what each measures), ``controls`` each model's random-init control,
    ``roles`` the configured family each model stands for, ``units_files`` every probe's
    per-unit test outcomes (paired comparisons), ``families`` each configured model's seeded
    members, ``resampling`` the probe block's bootstrap settings; ``out_tables``, where the
    verdicts (one row per comparison) and the best layers go as CSV; ``series`` each checkpoint
    series (:mod:`strata.models.series`), whose in-between checkpoints only the "during
    training" section shows, and ``out_dynamics`` where its trajectory tables (probe scores,
    similarity) and its claims over time go as CSV."""
    series = series or {}
    every = {task: pd.read_parquet(path) for task, path in probe_tables.items()}
    hidden = dynamics.members_only(series)
    tables = {task: t[~t["model"].isin(hidden)].reset_index(drop=True) for task, t in every.items()}
    controls = controls or {}
    usage: dict[str, dict[str, dict]] = {}
    for path in weighted_files:
        record = read_json(path)
        if record["model"] in hidden:
            continue
        usage.setdefault(record["task"], {})[record["model"]] = record
    source = json.dumps(
        {k: run_info[k] for k in ("code_version", "config_sha256", "manifest_sha256")}
    )
    probes = []
    for task, table in tables.items():
        metric = table["metric"].iloc[0]
        curve = probe_curve(table, task, metric, families)
        png = _save(curve, figure_dir / f"probe_{task}.png", source)
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
    similarity = [read_similarity_table(path) for path in similarity_files]
    shown = [t for t in similarity if not {t.attrs["model_a"], t.attrs["model_b"]} & hidden]
    heatmaps, crosses = similarity_figures(shown, controls, figure_dir, source)
    losses_png, training_table = training_section(list(training_runs), figure_dir, source)
    how = Resampling(**(resampling or {}))
    units_of = units_reader(units_files)
    verdicts = paper_contrasts(
        tables,
        tasks or {},
        [c for c in model_cards if c["model"] not in hidden],
        controls,
        shown,
        roles,
        units_of,
        families,
        how,
    )
    tasks = tasks or {}
    phone_tasks = [
        t for t in every if t in tasks and TASK_KINDS[tasks[t]["kind"]].layer_profile == "phones"
    ]
    during, trajectories = dynamics_section(
        every,
        similarity,
        series,
        (
            Judge(tasks, units_of, how),
            how.alpha,
            {**(roles or {}), **roles_of(model_cards, roles)},
            phone_tasks,
        ),
        figure_dir,
        source,
    )
    family_size = sum(np.isfinite(c.difference.p) for v in verdicts for c in v.comparisons)
    best = best_layers(tables)
    template = jinja2.Environment(
        loader=jinja2.PackageLoader("strata.report", "templates"), autoescape=True
    ).get_template("index.html")
    page = template.render(
        probes=probes,
        heatmaps=heatmaps,
        crosses=crosses,
        best_table=best.to_html(index=False, float_format="{:.3f}".format, border=0),
        below_chance=_flagged(tables, "below_chance"),
        at_cap=_flagged(tables, "at_cap"),
        cards=model_cards,
        run=run_info,
        losses_png=losses_png,
        training_table=training_table,
        verdicts=verdicts,
        family_size=family_size,
        alpha=1 - (resampling or {}).get("confidence", 0.95),
        during=during,
    )
    written = list(zip((verdict_table(verdicts), best), out_tables or (), strict=False))
    written += list(zip(trajectories, out_dynamics or (), strict=False))
    for table, path in written:
        with atomic_path(path) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(out_html) as tmp:
        tmp.write_text(page)
