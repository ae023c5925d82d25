"""Rule train_model: train one init: trained model; resumes a killed run from its last epoch."""

from pathlib import Path

import _checkout  # noqa: F401 - the checkout's strata, also in conda envs
import torch

from strata.training.run import train_model
from strata.workflow import rule_logging

smk = snakemake  # noqa: F821 - injected by Snakemake
with rule_logging(smk.log, smk.rule) as log:
    torch.set_num_threads(smk.threads)
    targets = (Path(smk.input.targets), smk.params.targets) if smk.params.targets else None
    summary = train_model(
        smk.wildcards.model, smk.params.model, Path(smk.input.data), Path(smk.output[0]), targets
    )
    log.info(
        "trained %s (%s) for %d steps: loss %.4f -> %.4f (first, last epoch mean)",
        summary["model"],
        summary["objective"],
        summary["steps"],
        summary["first_epoch_loss"],
        summary["last_epoch_loss"],
    )
