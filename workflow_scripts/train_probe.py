"""Rule train_probe: a probe on one layer of one model for one task."""

import _checkout  # noqa: F401 - the checkout's strata, also in conda envs

from strata.probes.run import run_job
from strata.workflow import rule_logging

smk = snakemake  # noqa: F821 - injected by Snakemake
with rule_logging(smk):
    run_job(smk)  # logs the test score with its interval
