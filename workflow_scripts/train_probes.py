"""Rules train_probes and train_frame_probes (``probe.jobs: model``): one model, one task,
every layer's probe and the weighted sum of ``params.layers``, each in its folder."""

from pathlib import Path

import _checkout  # noqa: F401 - the checkout's strata, also in conda envs

from strata.probes.run import probe_set_job
from strata.workflow import rule_logging

smk = snakemake  # noqa: F821 - injected by Snakemake
with rule_logging(smk.log, smk.rule):
    probe_set_job(
        features=Path(smk.input.features),
        data=Path(smk.input.data),
        task_name=smk.wildcards.task,
        task=smk.params.task,
        probe=smk.params.probe,
        layers=list(smk.params.layers),
        out_dir=Path(smk.output[0]),
        threads=smk.threads,
    )
