"""Rule layer_similarity: every layer of model A against every layer of model B."""

from pathlib import Path

import _checkout  # noqa: F401 - the checkout's strata, also in conda envs

from strata.similarity.matrix import matrix_of
from strata.similarity.run import run_similarity
from strata.workflow import rule_logging

smk = snakemake  # noqa: F821 - injected by Snakemake
with rule_logging(smk.log, smk.rule) as log:
    table = run_similarity(
        dir_a=Path(smk.input.a),
        dir_b=Path(smk.input.b),
        layers=(smk.params.layers_a, smk.params.layers_b),
        measure=smk.params.measure,
        level=smk.wildcards.level,
        out=Path(smk.output[0]),
        controls=dict(smk.params.controls),
        frames=dict(smk.params.frames),
        device=smk.params.device,
    )
    log.info("n=%d\n%s", table.attrs["n"], matrix_of(table).round(3).to_string())
