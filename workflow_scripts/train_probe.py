"""Rules train_probe and train_frame_probe (one layer: the ``layer`` wildcard), and
train_weighted_probe and train_frame_weighted_probe (the weighted sum of ``params.layers``):
one model, one task."""

from pathlib import Path

import _checkout  # noqa: F401 - the checkout's strata, also in conda envs

from strata.probes.run import probe_job
from strata.workflow import rule_logging

smk = snakemake  # noqa: F821 - injected by Snakemake
weighted = hasattr(smk.params, "layers")  # a Namedlist: its names are attributes
with rule_logging(smk.log, smk.rule):
    probe_job(
        features=Path(smk.input.features),
        data=Path(smk.input.data),
        task_name=smk.wildcards.task,
        task=smk.params.task,
        probe=smk.params.probe,
        outputs=(Path(smk.output.metrics), Path(smk.output.checkpoint), Path(smk.output.units)),
        threads=smk.threads,
        layers=list(smk.params.layers) if weighted else None,
        layer=None if weighted else smk.wildcards.layer,
    )
