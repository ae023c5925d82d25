"""The README's results from a finished run: ``python -m strata.report.results [results/report]``
prints, as Markdown, each family's best-layer test score per task across its seeds (mean and
range) and the report's verdicts with their per-seed outcomes."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

SEEDED = re.compile(r"(?P<family>.+)_s(?P<seed>\d+)$")


def family_of(model: str) -> tuple[str, str]:
    """(family, seed) of a seed member ``<name>_s<seed>``; (model, "") for the rest."""
    match = SEEDED.fullmatch(model)
    return (match["family"], match["seed"]) if match else (model, "")


def _cell(scores: pd.Series) -> str:
    if len(scores) == 1:
        return f"{scores.iloc[0]:.3f}"
    return f"{scores.mean():.3f} ({scores.min():.3f}–{scores.max():.3f})"


def seed_spread(best: pd.DataFrame) -> pd.DataFrame:
    """Family × task: the best layer's test score (chosen on dev), as "mean (min–max)" over
    the family's seeds, or the one model's score."""
    best = best.assign(family=[family_of(m)[0] for m in best["model"]])
    cells = best.groupby(["family", "task"], sort=False)["test"].apply(_cell)
    table = cells.unstack("task")
    table = table.loc[list(dict.fromkeys(best["family"])), list(dict.fromkeys(best["task"]))]
    return table.rename_axis(index="family", columns=None)


def claims(verdicts: pd.DataFrame) -> pd.DataFrame:
    """One row per claim: single and adjusted outcomes, and each seed's adjusted outcome."""
    rows = []
    for claim, group in verdicts.groupby("claim", sort=False):
        seeds = group.dropna(subset=["seed"]).drop_duplicates("seed")
        pairs = zip(seeds["seed"], seeds["seed_adjusted"], strict=True)
        first = group.iloc[0]
        rows.append({
            "claim": claim, "single": first["outcome"], "Holm-adjusted": first["adjusted"],
            "per seed (adjusted)": ", ".join(f"{s}: {o}" for s, o in pairs) or "one model",
        })  # fmt: skip
    return pd.DataFrame(rows)


def results_markdown(report_dir: Path) -> str:
    best = pd.read_csv(report_dir / "best_layers.csv")
    verdicts = pd.read_csv(report_dir / "verdicts.csv", dtype={"seed": str})
    return results_markdown_from(best, verdicts)


def results_markdown_from(best: pd.DataFrame, verdicts: pd.DataFrame) -> str:
    """The family × task table of best-layer scores, then the claims and their verdicts."""
    metrics = dict(zip(best["task"], best["metric"], strict=False))
    spread = seed_spread(best).rename(columns=lambda t: f"{t} ({metrics[t]})")
    table = claims(verdicts)
    counts = table["Holm-adjusted"].value_counts()
    tested = int(verdicts["p_holm"].notna().sum())
    return "\n".join([
        spread.to_markdown(),
        "",
        f"{len(table)} claims, Holm-adjusted over {tested} paired comparisons: "
        + ", ".join(f"{n} {outcome}" for outcome, n in counts.items()) + ".",
        "",
        table.to_markdown(index=False),
    ])  # fmt: skip


if __name__ == "__main__":
    print(results_markdown(Path(sys.argv[1] if len(sys.argv) > 1 else "results/report")))
