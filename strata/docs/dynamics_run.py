"""docs/dynamics.md's account of the series run (configs/dynamics.yaml), every number from its
committed snapshot ``docs/runs/dynamics/`` (``make docs DYNAMICS=<finished run>``)."""

from __future__ import annotations

import pandas as pd

from strata.docs.blocks import Sources, block
from strata.report.contrasts import best_row

PHONES = "phones"


def _scores(sources: Sources) -> pd.DataFrame:
    return sources.dynamics_table("dynamics.csv")


def best_on_dev(scores: pd.DataFrame) -> pd.DataFrame:
    """Per series, task and checkpoint: the layer best on dev and its test score, beside the
    first and last layers' test scores (checkpoints in the table's training order)."""
    rows = []
    for (name, task, checkpoint), g in scores.groupby(["series", "task", "checkpoint"], sort=False):
        g = g.sort_values("layer_index")
        best = best_row(g, g["model"].iloc[0])  # as the report chooses it
        rows.append({
            "series": name, "task": task, "checkpoint": checkpoint,
            "best layer (dev)": best["layer"], "its test": best["test"],
            "first layer": g["test"].iloc[0], "last layer": g["test"].iloc[-1],
            "layers": len(g),
        })  # fmt: skip
    return pd.DataFrame(rows)


@block("dynamics-run")
def dynamics_run(sources: Sources) -> str:
    run = pd.read_json(sources.dynamics / "run.json", typ="series")
    commit = run["code_version"].split("+")[1]
    return (
        f"From a fresh clone's run of `configs/dynamics.yaml` at commit `{commit}` "
        f"({run['date']}, {run['cores']} cores, nothing else running): {run['jobs']} jobs, "
        f"**{run['wall_seconds'] / 60:.1f} min** of Snakemake wall time once the environment "
        "was installed (`make setup`)."
    )


@block("dynamics-claims")
def dynamics_claims(sources: Sources) -> str:
    claims = sources.dynamics_table("dynamics_claims.csv")
    rows = [
        {
            "series": f"`{name}`",
            "claim": claim,
            "over the series": g["statement"].iloc[0],
            "each checkpoint (unadjusted)": "; ".join(
                f"{c}: {o}" for c, o in zip(g["checkpoint"], g["outcome"], strict=True)
            ),
        }
        for (name, claim), g in claims.groupby(["series", "claim"], sort=False)
    ]
    return pd.DataFrame(rows).to_markdown(index=False)


@block("dynamics-phones")
def dynamics_phones(sources: Sources) -> str:
    best = best_on_dev(_scores(sources))
    best = best[best["task"] == PHONES].drop(columns=["task", "layers"])
    best["series"] = [f"`{s}`" for s in best["series"]]
    return best.to_markdown(index=False, floatfmt=".3f")
