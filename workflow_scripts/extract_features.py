"""Rule extract_features: every layer of one model on one dataset, one shard per layer."""

from pathlib import Path

import _checkout  # noqa: F401 - the checkout's strata, also in conda envs
import torch

from strata.features.extract import extract_features
from strata.manifest import read_dataset
from strata.models.card import load_model
from strata.provenance import provenance
from strata.workflow import rule_logging

smk = snakemake  # noqa: F821 - injected by Snakemake
with rule_logging(smk.log, smk.rule) as log:
    torch.set_num_threads(smk.threads)
    manifest, manifest_sha = read_dataset(smk.input.data)
    encoder, card = load_model(Path(smk.input.model), smk.params.model)
    metadata = provenance(
        {"model": smk.params.model, "features": smk.params.features},
        model=card["model"],
        family=card["family"],
        weights_sha256=card["weights_sha256"],
        dataset=smk.wildcards.dataset,
        manifest_sha256=manifest_sha,
    )
    rows = extract_features(
        encoder,
        manifest,
        Path(smk.input.data),
        Path(smk.output.features),
        smk.params.features,
        metadata,
        frames_dir=Path(smk.output.frames),
    )
    log.info("wrote %d layers: %s", len(rows), rows)
