"""Rule prepare_model: materialise a configured model and write its card."""

from pathlib import Path

import _checkout  # noqa: F401 - the checkout's strata, also in conda envs

from strata.models.card import prepare_model
from strata.workflow import rule_logging

smk = snakemake  # noqa: F821 - injected by Snakemake
with rule_logging(smk.log, smk.rule) as log:
    trained = Path(smk.input.trained) if smk.input.trained else None
    card = prepare_model(smk.wildcards.model, smk.params.model, Path(smk.output[0]), trained)
    log.info(
        "prepared %s: %d layers, weights %s",
        card["model"],
        len(card["layers"]),
        card["weights_sha256"][:16],
    )
