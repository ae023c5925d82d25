"""Generated passages in Markdown: find them, render them, rewrite or check them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from strata.io import read_json

BEGIN = "<!-- make docs: {name} -->"
END = "<!-- end make docs: {name} -->"
BLOCK = re.compile(
    r"^<!-- make docs: (?P<name>[\w-]+) -->\n(?P<body>.*?)^<!-- end make docs: (?P=name) -->$",
    re.M | re.S,
)


@dataclass
class Sources:
    """Everything a block may read, all committed: the run snapshot, checkpoints, configs."""

    root: Path
    snapshot: Path = field(init=False)
    dynamics: Path = field(init=False)

    def __post_init__(self) -> None:
        self.snapshot = self.root / "docs" / "runs" / "default"
        self.dynamics = self.root / "docs" / "runs" / "dynamics"

    @cached_property
    def run(self) -> dict:
        return read_json(self.snapshot / "run.json")

    @cached_property
    def best(self) -> pd.DataFrame:
        return pd.read_csv(self.snapshot / "best_layers.csv")

    @cached_property
    def verdicts(self) -> pd.DataFrame:
        return pd.read_csv(self.snapshot / "verdicts.csv", dtype={"seed": str})

    @cached_property
    def probes(self) -> pd.DataFrame:
        """Every probe of the run: one row per (model, task, layer or ``weighted``)."""
        tables = sorted((self.snapshot / "probes").glob("*.csv"))
        return pd.concat([pd.read_csv(t) for t in tables], ignore_index=True)

    @cached_property
    def rules(self) -> pd.DataFrame:
        return pd.read_csv(self.snapshot / "rules.csv")

    # The snapshot of a finished configs/dynamics.yaml run: its facts and the report's tables.
    @cached_property
    def dynamics_run(self) -> dict:
        return read_json(self.dynamics / "run.json")

    @cached_property
    def dynamics_scores(self) -> pd.DataFrame:
        return self._dynamics_table("dynamics.csv")

    @cached_property
    def dynamics_similarity(self) -> pd.DataFrame:
        return self._dynamics_table("dynamics_similarity.csv")

    @cached_property
    def dynamics_claims(self) -> pd.DataFrame:
        return self._dynamics_table("dynamics_claims.csv")

    def _dynamics_table(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self.dynamics / name, keep_default_na=False, na_values=[""])


Renderer = Callable[[Sources], str]
BLOCKS: dict[str, Renderer] = {}


def block(name: str) -> Callable[[Renderer], Renderer]:
    def register(fn: Renderer) -> Renderer:
        BLOCKS[name] = fn
        return fn

    return register


def render_file(text: str, sources: Sources, where: str = "") -> str:
    """``text`` with every generated block re-rendered; an unknown name is an error."""

    def replace(match: re.Match) -> str:
        name = match["name"]
        if name not in BLOCKS:
            raise KeyError(f"{where}: no block named {name!r} (known: {sorted(BLOCKS)})")
        body = BLOCKS[name](sources).strip("\n")
        return f"{BEGIN.format(name=name)}\n{body}\n{END.format(name=name)}"

    return BLOCK.sub(replace, text)


def documents(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def stale(root: Path) -> list[str]:
    """The files whose generated blocks differ from what ``make docs`` would write."""
    sources = Sources(root)
    return [
        str(path.relative_to(root))
        for path in documents(root)
        if render_file(text := path.read_text(), sources, str(path)) != text
    ]


def write(root: Path) -> list[str]:
    """Re-render every generated block in place; returns the files that changed."""
    sources, changed = Sources(root), []
    for path in documents(root):
        text = path.read_text()
        new = render_file(text, sources, str(path))
        if new != text:
            path.write_text(new)
            changed.append(str(path.relative_to(root)))
    return changed
