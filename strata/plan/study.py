"""What a config asks for, as the DAG builds it: models (seeds expanded, with their random
twins) and their layers, the layers each task probes, the model pairs compared.
``rules/common.smk`` and the plan both read it, so the plan counts exactly the jobs Snakemake
runs."""

from __future__ import annotations

from functools import cached_property
from itertools import combinations_with_replacement
from typing import Any

from strata.config import frame_datasets
from strata.models import layer_specs
from strata.models.base import ContractError, LayerSpec
from strata.models.seeds import expand_models, families, pair_members, with_seeds
from strata.models.series import series_of
from strata.models.twins import twin_of
from strata.probes.kinds import TASK_KINDS


def _specs(name: str, model: dict[str, Any]) -> list[LayerSpec]:
    try:
        return layer_specs(model)
    except ContractError as err:
        raise ContractError(f"model {name!r}: {err}") from None


class Study:
    def __init__(self, config: dict[str, Any]):
        self.config = config
        self.models = expand_models(config["models"])
        # Configured name → its seed members (itself when unseeded), for the report's groups.
        self.families = families(config["models"])
        self.frame_datasets = frame_datasets(config)
        # Each checkpoint series → (label, epoch or step, model), in training order.
        self.series = series_of(with_seeds(config["models"]))

    @cached_property
    def specs(self) -> dict[str, list[LayerSpec]]:
        return {name: _specs(name, m) for name, m in self.models.items()}

    def layers_at(self, model: str, level: str) -> list[LayerSpec]:
        """Every layer (utterance level, pooled), or only frame-level layers (frame level)."""
        return [s for s in self.specs[model] if level == "utterance" or s.frame_rate is not None]

    def probe_layers(self, model: str, task: str) -> list[LayerSpec]:
        """The layers a task probes: frame-level ones only for tasks that read every frame."""
        frames = self.reads_frames(task)
        return [s for s in self.specs[model] if s.frame_rate is not None or not frames]

    def reads_frames(self, task: str) -> bool:
        """Whether a task's probes read every frame (CTC) rather than pooled rows."""
        return TASK_KINDS[self.config["tasks"][task]["kind"]].frames

    def probe_settings(self, task: str) -> dict[str, Any]:
        """The probe block with the task's own overrides applied."""
        return self.config["probe"] | self.config["tasks"][task].get("probe", {})

    def probe_jobs(self, task: str) -> str:
        """How a task's probes are cut into jobs: ``model``, one job per model (every layer and
        the weighted sum in one process: start-up and reading paid once), or ``layer``, one
        job per layer and one for the weighted sum (a cluster at scale: hours each)."""
        return self.probe_settings(task).get("jobs", "model")

    def probe_rule(self, task: str, weighted: bool = False) -> str:
        """The rule that runs a task's probes: frame-level tasks have their own (GPU) rules;
        with ``jobs: model`` one rule runs a model's every probe of the task."""
        frames = "frame_" if self.reads_frames(task) else ""
        if self.probe_jobs(task) == "model":
            return f"train_{frames}probes"
        return f"train_{frames}{'weighted_' if weighted else ''}probe"

    def model_pairs(self) -> list[tuple[str, str]]:
        """Unordered model pairs, self-pairs included, in config order; with a list of pairs,
        each (a pair naming seeded models: each seed's) is followed by its control (its models
        replaced by their random-init controls)."""
        pairs = self.config["similarity"]["pairs"]
        if pairs == "all":
            return list(combinations_with_replacement(self.models, 2))
        listed = [p for a, b in pairs for p in pair_members(a, b, self.config["models"])]
        controls = [(twin_of(a, self.models), twin_of(b, self.models)) for a, b in listed]
        paired = [p for pair in zip(listed, controls, strict=True) for p in pair]
        return list(dict.fromkeys([*paired, *self.series_pairs()]))

    def series_pairs(self) -> list[tuple[str, str]]:
        """Each checkpoint of a series beside its first and its last (the report's "during
        training" similarity); no controls: the first is the random init."""
        pairs = [
            pair
            for members in self.series.values()
            for _, _, model in members
            for pair in ((members[0][2], model), (model, members[-1][2]))
            if pair[0] != pair[1]
        ]
        return list(dict.fromkeys(pairs))

    def similarity_jobs(self) -> list[tuple[str, str, str, str]]:
        """(model A, model B, level, measure); the frame level only for pairs with frame
        layers."""
        similarity = self.config["similarity"]
        return [
            (a, b, level, measure)
            for a, b in self.model_pairs()
            for level in similarity["levels"]
            if self.layers_at(a, level) and self.layers_at(b, level)
            for measure in similarity["measures"]
        ]

    def trained(self) -> list[str]:
        return [m for m, spec in self.models.items() if spec["init"] == "trained"]

    def feature_datasets(self) -> list[str]:
        """Datasets whose features are extracted: every task's and the similarity one."""
        tasks = [t["dataset"] for t in self.config["tasks"].values()]
        return list(dict.fromkeys([*tasks, self.config["similarity"]["dataset"]]))
