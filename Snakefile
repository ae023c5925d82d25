# strata: layer-wise probing and similarity analysis of speech and speaker encoders.
# Stages live in rules/*.smk; helpers (target lists, config slices) in rules/common.smk.
from pathlib import Path

from strata.config import validate_config

# A --configfile is the whole study: the default config.yaml is read only when none is given
# (Snakemake would otherwise merge the two, so a one-model study would gain the demo models).
if not workflow.config_settings.configfiles:

    configfile: Path(workflow.basedir) / "config.yaml"


validate_config(config)


report: "docs/report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/training.smk"
include: "rules/models.smk"
include: "rules/features.smk"
include: "rules/probes.smk"
include: "rules/similarity.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        "results/report/index.html",
