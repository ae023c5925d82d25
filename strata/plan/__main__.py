"""Print a study's plan: ``python -m strata.plan [--configfile configs/paper.yaml]``.

Needs no checkpoint and no corpus: layer widths come from each model's declared architecture
(or the table of known hub checkpoints), corpus sizes from prepared manifests or the table of
standard corpora."""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import yaml

from strata.config import validate_config
from strata.plan.jobs import Planner

GB = 1e9


def summary(planner: Planner, jobs: list) -> str:
    config, study = planner.config, planner.study
    lines = ["Datasets (utterances, hours; source):"]
    for name in study.feature_datasets():
        size = planner.size(name)
        if size is None:
            lines.append(f"  {name:<12} unknown until prepared (snakemake results/data/{name})")
            continue
        lines.append(
            f"  {name:<12} {size.total_utterances:>9,} utt {size.hours:>8.1f} h   {size.source}"
        )
    lines += ["", "Models (layers x width @ frames/s):"]
    for model, declared in study.specs.items():
        specs = planner.layers(model)
        framed = [s for s in declared if s.frame_rate is not None]
        dims = "unknown until extraction" if specs is None else sorted({s.dim for s in specs})
        rate = f"{framed[0].frame_rate:g}/s" if framed else "pooled"
        lines.append(f"  {model:<20} {len(declared):>3} layers, widths {dims}, {rate}")
    per_rule: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    unknown: dict[str, int] = defaultdict(int)
    for rule, _, estimate in jobs:
        row = per_rule[rule]
        row["jobs"] += 1
        if estimate is None:
            unknown[rule] += 1
            continue
        row["bytes"] += estimate.bytes
        row["frame_bytes"] += estimate.frame_bytes
        row["mem"] = max(row["mem"], estimate.mem_mb)
        row["hours"] += estimate.seconds / 3600
    lines += ["", f"{'rule':<28}{'jobs':>6}{'writes':>12}{'peak mem/job':>14}{'hours':>11}"]
    for rule, row in per_rule.items():
        writes = f"{row['bytes'] / GB:,.1f} GB" if row["bytes"] else "-"
        lines.append(
            f"{rule:<28}{int(row['jobs']):>6}{writes:>12}{row['mem'] / 1024:>11.1f} GiB"
            f"{row['hours']:>11,.1f}"
        )
    total = sum(row["bytes"] for row in per_rule.values())
    framed = sum(row["frame_bytes"] for row in per_rule.values())
    hours = sum(row["hours"] for row in per_rule.values())
    features = config["features"]
    lines += ["", f"Features: {total / GB:,.1f} GB in {features['dtype']}"]
    kept = features.get("keep_frames", True)
    lines.append(
        f"  of which frame shards {framed / GB:,.1f} GB: "
        + (
            "kept (features.keep_frames: false removes each once read)"
            if kept
            else "temporary (removed once every job reading them has finished)"
        )
    )
    if features.get("frame_hours"):
        lines.append(f"  frames kept per split (features.frame_hours): {features['frame_hours']}")
    if features["dtype"] == "float32":
        lines.append(f"  ({total / GB / 2:,.1f} GB with features.dtype: float16)")
    lines.append(
        f"Hours in all: {hours:,.0f}, as measured on 2 CPU cores (docs/scale.md); a GPU runs "
        "extraction, the CTC probes and linear CKA many times faster"
    )
    for rule, n in unknown.items():
        lines.append(
            f"  {rule}: {n} jobs not estimated (a dataset size or layer width unknown until "
            "prepared or extracted)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m strata.plan", description=__doc__)
    parser.add_argument("--configfile", type=Path, default=Path("config.yaml"))
    parser.add_argument("--directory", type=Path, default=Path("."), help="the working dir")
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.configfile.read_text())
    validate_config(config)
    planner = Planner(config, args.directory)
    jobs = planner.jobs()
    print(summary(planner, jobs))
    failures = []
    for rule, job, estimate in jobs:
        try:
            planner.check(rule, job, estimate)
        except ValueError as err:
            failures.append(str(err))
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
