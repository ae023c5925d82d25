"""Rule summarise_probes: one table per task, every model × layer."""

from pathlib import Path

import _checkout  # noqa: F401 - the checkout's strata, also in conda envs

from strata.probes.run import summarise
from strata.workflow import rule_logging

smk = snakemake  # noqa: F821 - injected by Snakemake
with rule_logging(smk.log, smk.rule) as log:
    metrics = [Path(p) for p in smk.params.metrics]
    table = summarise(metrics, Path(smk.output.table), Path(smk.output.csv))
    log.info("%d rows", len(table))
