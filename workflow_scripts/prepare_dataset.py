"""Rule prepare_dataset: synthesise or import a dataset into results/data/{dataset}/."""

from pathlib import Path

import _checkout  # noqa: F401 - the checkout's strata, also in conda envs

from strata.datasets import prepare_dataset
from strata.workflow import rule_logging

smk = snakemake  # noqa: F821 - injected by Snakemake
with rule_logging(smk.log, smk.rule) as log:
    manifest = prepare_dataset(smk.params.dataset, Path(smk.output[0]), smk.threads)
    log.info("%d utterances, %d columns", len(manifest), manifest.shape[1])
