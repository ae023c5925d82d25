"""Blocks computed from what the repository itself holds: the planner on ``configs/paper.yaml``
and the shipped checkpoints' training tables."""

from __future__ import annotations

import pandas as pd
import yaml

from strata.docs.blocks import Sources, block

LARGEST = 6


def paper_planner(sources: Sources):
    from strata.config import validate_config
    from strata.plan.jobs import Planner

    config = yaml.safe_load((sources.root / "configs" / "paper.yaml").read_text())
    validate_config(config)
    # A directory with no prepared manifests: sizes come from the table of standard corpora.
    return Planner(config, sources.root / "docs" / "runs" / "no-such-workdir")


@block("paper-plan")
def paper_plan(sources: Sources) -> str:
    from strata.plan.__main__ import summary

    planner = paper_planner(sources)
    text = summary(planner, planner.jobs())
    return f"```text\n$ python -m strata.plan --configfile configs/paper.yaml\n{text}\n```"


@block("paper-largest")
def paper_largest(sources: Sources) -> str:
    """The paper grid's jobs with the most memory: what a node must hold."""
    jobs = [(rule, job, e) for rule, job, e in paper_planner(sources).jobs() if e is not None]
    jobs.sort(key=lambda j: -j[2].mem_mb)
    rows = [
        {
            "rule": rule,
            "job": f"`{job}`",
            "MiB": f"{e.mem_mb:,}",
            "hours": f"{e.seconds / 3600:.1f}",
        }
        for rule, job, e in jobs[:LARGEST]
    ]
    return pd.DataFrame(rows).to_markdown(index=False, colalign=("left", "left", "right", "right"))


@block("training-budgets")
def training_budgets(sources: Sources) -> str:
    """Per shipped checkpoint: objective, epochs, steps, minutes, first and last epoch loss."""
    from strata.benchmarks.bench import training_table

    table = training_table(sources.root / "docs" / "runs" / "no-such-workdir")
    return table.drop(columns="where").to_markdown()
