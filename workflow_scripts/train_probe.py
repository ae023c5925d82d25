"""Rule train_probe: a linear probe on one layer of one model for one task."""

from pathlib import Path

import _checkout  # noqa: F401 - the checkout's strata, also in conda envs
import torch

from strata.manifest import read_dataset
from strata.probes.run import run_probe
from strata.workflow import rule_logging

smk = snakemake  # noqa: F821 - injected by Snakemake
with rule_logging(smk) as log:
    torch.set_num_threads(smk.threads)
    metrics = run_probe(
        features=Path(smk.input.features) / f"{smk.wildcards.layer}.parquet",
        manifest=read_dataset(smk.input.data)[0],
        task_name=smk.wildcards.task,
        task=smk.params.task,
        probe=smk.params.probe,
        metrics_path=Path(smk.output.metrics),
        checkpoint_path=Path(smk.output.checkpoint),
    )
    log.info("test %s = %.4f", metrics["metric"], metrics["test"])
