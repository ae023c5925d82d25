"""Blocks computed from what the repository itself holds: the planner on ``configs/paper.yaml``
and the shipped checkpoints' training tables."""

from __future__ import annotations

import pandas as pd
import yaml

from strata.docs.blocks import Sources, block

LARGEST = 6
NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


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


def _count(n: int) -> str:
    return NUMBERS[n] if n < len(NUMBERS) else f"{n:,}"


@block("default-study")
def default_study(sources: Sources) -> str:
    """The README's one-paragraph account of config.yaml, its counts read from it."""
    config = yaml.safe_load((sources.root / "config.yaml").read_text())
    corpus, pretrain = config["datasets"]["embedded"], config["datasets"]["pretrain"]
    speakers = corpus["speakers"]["count"] + len(corpus.get("voices", []))
    trained = {m: v for m, v in config["models"].items() if v["init"] == "trained"}
    seeds = {len(v.get("seeds", [v.get("seed")])) for v in trained.values()}
    kinds = {t["kind"] for t in config["tasks"].values()}
    measures = ", ".join(f"`{m}`" for m in config["similarity"]["measures"])
    if len(seeds) != 1:
        raise ValueError("config.yaml: the trained families differ in their number of seeds")
    return (
        f"`config.yaml` is fully offline. It synthesises a corpus of {speakers} speakers who "
        "differ by voice (espeak-ng voices with their own seeded timbres, plus flite and "
        "festival voices), loads the paper's three model families in miniature (a "
        "masked-prediction WavLM, a DINO ECAPA-TDNN and an AAM-softmax ECAPA-TDNN, "
        f"{_count(seeds.pop())} training seeds each, trained on {pretrain['speakers']['count']} "
        "other speakers and shipped in `checkpoints/`), the random inits they started from and "
        "a real pretrained GE2E, and then, for every layer: extracts features, trains "
        f"SUPERB-style probes for {_count(len(config['tasks']))} tasks of {_count(len(kinds))} "
        "kinds (speaker ID, verification, phone recognition, keywords, intents, speaking "
        f"style), compares layers with {measures} at the "
        f"{' and '.join(config['similarity']['levels'])} level with permutation p-values and "
        "jackknife intervals, and judges the paper's claims on paired differences."
    )


@block("config-defaults")
def config_defaults(sources: Sources) -> str:
    """Every key the schema gives a default: what a config that leaves it out gets."""
    from strata.schema import load_schema

    rows = [
        {"key": f"`{key}`", "default": f"`{value}`" if value != {} else "(its keys' defaults)"}
        for key, value in schema_defaults(load_schema())
    ]
    return pd.DataFrame(rows).to_markdown(index=False)


def schema_defaults(schema: dict, prefix: str = "") -> list[tuple[str, object]]:
    """(dotted key, default) for every property with a default, top-level blocks first."""
    out = []
    for name, sub in schema.get("properties", {}).items():
        key = f"{prefix}.{name}" if prefix else name
        if "default" in sub:
            out.append((key, sub["default"]))
        out += schema_defaults(sub, key)
    return out
