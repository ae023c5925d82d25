"""How `snakemake --report` files the report rule's figures.

``build.py`` names each figure after what it shows: ``probe_{task}.png``, ``usage_{task}.png``,
``training_losses.png``, ``{level}_{measure}_{a}__{b}.png`` (heatmaps),
``{level}_{measure}_{a}__{b}_lines.png`` (across models) and ``during__{series}__{view}.png``
(a checkpoint series). :func:`figure_patterns` gives Snakemake's ``report(..., patterns=...)``
one pattern per kind, disjoint, so every figure is filed once; the other functions turn a
figure's wildcards into its category, subcategory and labels, the same labels as the tables
beside it.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterable
from typing import Any

# Snakemake's report guesses each file's type from its name; Python knows no Parquet type and
# Snakemake would call the similarity tables text/plain. The IANA type, so they are downloads.
mimetypes.add_type("application/vnd.apache.parquet", ".parquet")

_MODEL_B = "[A-Za-z][A-Za-z0-9_]*(?<!_lines)"  # a heatmap's second model: not a lines figure


def figure_patterns(levels: Iterable[str], measures: Iterable[str]) -> list[str]:
    """Patterns (``glob_wildcards`` syntax, relative to the figure folder) for every figure.

    Names are split at ``_``, which measure and model names hold too: the configured levels and
    measures are matched longest first (``linear_cka_debiased`` before ``linear_cka``)."""

    def choice(names: Iterable[str]) -> str:
        return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))

    level = "{level," + choice(levels) + "}"
    measure = "{measure," + choice(measures) + "}"
    pair = "{model_a}__{model_b," + _MODEL_B + "}"
    return [
        "{kind,probe|usage}_{task}.png",
        "training_{curves,losses}.png",
        f"{level}_{measure}_{pair}.png",
        f"{level}_{measure}_{pair}_{{view,lines}}.png",
        "during__{series}__{moment}.png",
    ]


def _is_probe(wildcards: Any) -> bool:
    return hasattr(wildcards, "task")  # a Namedlist: its names are attributes


def _is_training(wildcards: Any) -> bool:
    return hasattr(wildcards, "curves")


def _is_series(wildcards: Any) -> bool:
    return hasattr(wildcards, "series")


def figure_category(wildcards: Any) -> str:
    if _is_series(wildcards):
        return "During training"
    if _is_training(wildcards):
        return "Training"
    return "Probes" if _is_probe(wildcards) else "Similarity"


def figure_subcategory(wildcards: Any) -> str:
    if _is_series(wildcards):
        return wildcards.series
    if _is_training(wildcards):
        return "Loss curves"
    if _is_probe(wildcards):
        return {"probe": "Score per layer", "usage": "Layer usage"}[wildcards.kind]
    return "Across models" if hasattr(wildcards, "view") else "Heatmaps"


def figure_labels(wildcards: Any) -> dict[str, str]:
    """Probes: the task; similarity: level, measure and both models (as their tables)."""
    if _is_series(wildcards):
        return {"series": wildcards.series, "figure": wildcards.moment}
    if _is_training(wildcards):
        return {"figure": "training losses"}
    if _is_probe(wildcards):
        return {"task": wildcards.task}
    return {
        "level": wildcards.level,
        "measure": wildcards.measure,
        "model A": wildcards.model_a,
        "model B": wildcards.model_b,
    }
