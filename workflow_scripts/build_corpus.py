"""Rule build_corpus: synthesise the embedded corpus, manifest and trials."""

from pathlib import Path

import _checkout  # noqa: F401 - the checkout's strata, also in conda envs

from strata.corpus import build_corpus
from strata.workflow import rule_logging

smk = snakemake  # noqa: F821 - injected by Snakemake
with rule_logging(smk) as log:
    manifest = build_corpus(smk.params.dataset, Path(smk.output.manifest).parent, smk.threads)
    log.info("%d utterances, %d speakers", len(manifest), manifest["speaker"].nunique())
