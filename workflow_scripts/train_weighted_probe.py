"""Rules train_weighted_probe and train_frame_weighted_probe: every layer of one model, weighted."""

from pathlib import Path

import _checkout  # noqa: F401 - the checkout's strata, also in conda envs

from strata.probes.run import probe_job
from strata.workflow import rule_logging

smk = snakemake  # noqa: F821 - injected by Snakemake
with rule_logging(smk.log, smk.rule):
    probe_job(
        features=Path(smk.input.features),
        data=Path(smk.input.data),
        task_name=smk.wildcards.task,
        task=smk.params.task,
        probe=smk.params.probe,
        outputs=(Path(smk.output.metrics), Path(smk.output.checkpoint)),
        threads=smk.threads,
        layers=list(smk.params.layers),
    )
