# strata: layer-wise probing and similarity analysis of speech and speaker encoders.
# Stages live in rules/*.smk; helpers (target lists, config slices) in rules/common.smk.
from pathlib import Path

from strata.config import validate_config


configfile: "config.yaml"


validate_config(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml")


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/models.smk"
include: "rules/features.smk"
include: "rules/probes.smk"
include: "rules/similarity.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        "results/report/index.html",
