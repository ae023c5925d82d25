"""Rule report: results/report/index.html and its figures."""

from pathlib import Path

import _checkout  # noqa: F401 - the checkout's strata, also in conda envs

from strata.manifest import read_dataset
from strata.models.card import read_card
from strata.provenance import code_version, config_digest
from strata.report import build_report
from strata.workflow import rule_logging

smk = snakemake  # noqa: F821 - injected by Snakemake
with rule_logging(smk.log, smk.rule) as log:
    manifest, manifest_sha = read_dataset(smk.input.data)
    run_info = {
        "title": smk.params.report["title"],
        "dataset": Path(smk.input.data).name,
        "num_utterances": len(manifest),
        "manifest_sha256": manifest_sha,
        "code_version": code_version(),
        "config_sha256": config_digest(smk.config),
    }
    build_report(
        probe_tables=dict(zip(smk.params.tasks, map(Path, smk.input.probe_tables), strict=True)),
        weighted_files=[Path(p) for p in smk.params.weighted],
        similarity_files=[Path(p) for p in smk.input.similarity],
        model_cards=[read_card(Path(d)) for d in smk.input.models],
        run_info=run_info,
        out_html=Path(smk.output.html),
        figure_dir=Path(smk.output.figures),
        tasks=smk.params.task_specs,
        controls=smk.params.controls,
        training_runs=[Path(p) for p in smk.input.training],
        roles=smk.params.roles,
        units_files=[Path(p) for p in smk.params.units],
        families=smk.params.families,
        resampling=smk.params.resampling,
        out_tables=(Path(smk.output.verdicts), Path(smk.output.best_layers)),
        series=smk.params.series,
        out_dynamics=(
            Path(smk.output.dynamics),
            Path(smk.output.dynamics_similarity),
            Path(smk.output.dynamics_claims),
        ),
    )
    log.info("report written to %s", smk.output.html)
