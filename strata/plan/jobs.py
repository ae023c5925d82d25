"""Each job's cost from the sizes of what it reads: peak memory, CPU time and bytes written.

:class:`Planner` answers per job (the rules' ``resources`` call it when Snakemake schedules a
job, once the dataset's manifest exists) and for the whole study (``strata.plan``, before
anything is fetched). Sizes come from prepared manifests, else from the table of standard
corpora; a dataset of neither kind has no estimate until it is prepared.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from strata.models.base import LayerSpec
from strata.plan import resources as r
from strata.plan.sizes import DatasetSize, dataset_size, longest_frames
from strata.plan.study import Study
from strata.probes.kinds import TASK_KINDS
from strata.probes.limits import DEFAULT_BUFFER_MB

DTYPE_BYTES = {"float16": 2, "float32": 4}
# Parquet bytes a row adds besides its values (utt_id, frame index, page headers), measured on
# shards strata wrote: ~1.3 B per frame row, ~8 B per utterance row.
FRAME_ROW_BYTES = 1.5
UTTERANCE_ROW_BYTES = 8


@dataclass(frozen=True)
class Estimate:
    mem_mb: int
    seconds: float  # wall seconds on the reference machine
    bytes: int = 0  # written
    frame_bytes: int = 0  # of which frame shards (results/frames/)


class CeilingError(ValueError):
    """A job would need more memory than the configured ``limits.mem_mb``, or more memory or
    time than the run's scheduler settings give a job."""


# The resources a plan sets, and what each is in a message.
PLANNED = {"mem_mb": "MiB of memory", "runtime": "minutes"}


class Planner:
    def __init__(self, config: dict[str, Any], workdir: Path = Path(".")):
        self.config, self.workdir = config, Path(workdir)
        self.study = Study(config)
        self.limit = config.get("limits", {}).get("mem_mb")
        # The run's own caps (a profile's `resources:`, --resources): Snakemake lowers every
        # job's resources to them, silently; on a cluster the job is then killed for memory.
        self.caps: dict[str, int] = {}

    def size(self, dataset: str) -> DatasetSize | None:
        data = self.workdir / "results" / "data" / dataset
        return dataset_size(self.config["datasets"][dataset], data)

    def layers(self, model: str) -> list[LayerSpec] | None:
        """A model's layers with their widths: as declared, else as an extraction wrote them
        (``results/features/<model>/<dataset>/<layer>.parquet``); None while one is unknown."""
        specs = self.study.specs[model]
        if all(s.dim is not None for s in specs):
            return specs
        for folder in sorted((self.workdir / "results" / "features" / model).glob("*")):
            written = _written_widths(folder, [s.name for s in specs if s.dim is None])
            if written is not None:
                return [s if s.dim is not None else replace(s, dim=written[s.name]) for s in specs]
        return None

    def extract(self, model: str, dataset: str) -> Estimate | None:
        size, specs = self.size(dataset), self.layers(model)
        if size is None or specs is None:
            return None
        features = self.config["features"]
        frame_level = dataset in self.study.frame_datasets
        value_bytes = DTYPE_BYTES[features["dtype"]]
        n = size.total_utterances
        pooled = sum(n * (s.dim * value_bytes + UTTERANCE_ROW_BYTES) for s in specs)
        framed = [s for s in specs if s.frame_rate is not None] if frame_level else []
        hours = features.get("frame_hours")
        frames = sum(
            size.frames(s.frame_rate, hours) * (s.dim * value_bytes + FRAME_ROW_BYTES)
            for s in framed
        )
        weights = _weights(self.study.models[model], specs)
        per_second = sum(s.dim * s.frame_rate for s in specs if s.frame_rate is not None)
        rate = max((s.frame_rate for s in specs if s.frame_rate), default=100.0)
        flops = 2 * weights * rate
        mem = r.extract_mb(weights, features["batch_seconds"], per_second)
        seconds = r.extract_seconds(sum(size.seconds.values()), flops)
        return Estimate(mem, seconds, int(pooled + frames), int(frames))

    def probe(self, model: str, task: str, layers: list[str]) -> Estimate | None:
        """One layer's probe (``layers`` of one), or the weighted sum of ``layers``."""
        spec = self.config["tasks"][task]
        size, specs = self.size(spec["dataset"]), self.layers(model)
        if size is None or specs is None:
            return None
        probe = self.study.probe_settings(task)
        chosen = [s for s in specs if s.name in layers]
        dims = [s.dim for s in chosen]
        epochs, lrs = probe["max_epochs"], len(probe["lrs"])
        if self.study.reads_frames(task):  # a CTC head on every frame
            rate = chosen[0].frame_rate
            frames = size.frames(rate, self.config["features"].get("frame_hours"))
            mem = r.ctc_probe_mb(
                frames,
                dims,
                probe.get("buffer_mb", DEFAULT_BUFFER_MB),
                probe["batch_size"],
                longest_frames(size, rate),
            )
            return Estimate(mem, r.ctc_probe_seconds(frames, dims, epochs, lrs))
        kind, n = TASK_KINDS[spec["kind"]], size.total_utterances
        if len(layers) == 1:
            mem = r.utterance_probe_mb(n, dims, kind.layer_memory_copies)
        else:
            mem = r.utterance_probe_mb(n, dims, kind.memory_copies, r.WEIGHTED_TRANSIENT_COPIES)
        return Estimate(mem, r.linear_probe_seconds(n, dims, epochs, lrs))

    def probe_set(self, model: str, task: str) -> Estimate | None:
        """Every probe of a task on one model in one job (``probe.jobs: model``): one after
        another, so the largest one's memory and the sum of their times."""
        names = [s.name for s in self.study.probe_layers(model, task)]
        parts = [self.probe(model, task, [name]) for name in names]
        parts.append(self.probe(model, task, names))
        if any(p is None for p in parts):
            return None
        return Estimate(max(p.mem_mb for p in parts), sum(p.seconds for p in parts))

    def similarity(self, a: str, b: str, level: str) -> Estimate | None:
        similarity = self.config["similarity"]
        size, specs_a, specs_b = self.size(similarity["dataset"]), self.layers(a), self.layers(b)
        if size is None or specs_a is None or specs_b is None:
            return None
        dims_a = _dims(specs_a, self.study.layers_at(a, level))
        dims_b = _dims(specs_b, self.study.layers_at(b, level))
        rows = size.total_utterances if level == "utterance" else similarity["frames"]["n"]
        permutations = similarity["controls"]["permutations"]
        return Estimate(
            r.similarity_mb(rows, dims_a, dims_b),
            r.similarity_seconds(rows, dims_a, dims_b, permutations),
        )

    def jobs(self) -> list[tuple[str, str, Estimate | None]]:
        """(rule, job, estimate) for every job whose cost depends on the data."""
        out: list[tuple[str, str, Estimate | None]] = []
        used = self.study.feature_datasets()
        for model in self.study.models:
            for dataset in used:
                out.append(("extract_features", f"{model}/{dataset}", self.extract(model, dataset)))
        for task in self.config["tasks"]:
            for model in self.study.models:
                if self.study.probe_jobs(task) == "model":
                    rule = self.study.probe_rule(task)
                    out.append((rule, f"{model}/{task}", self.probe_set(model, task)))
                    continue
                layers = self.study.probe_layers(model, task)
                for spec in layers:
                    job = f"{model}/{task}/{spec.name}"
                    rule = self.study.probe_rule(task)
                    out.append((rule, job, self.probe(model, task, [spec.name])))
                names = [s.name for s in layers]
                estimate = self.probe(model, task, names)
                out.append((self.study.probe_rule(task, True), f"{model}/{task}", estimate))
        for a, b, level, measure in self.study.similarity_jobs():
            job = f"{a}/{b}/{level}/{measure}"
            out.append(("layer_similarity", job, self.similarity(a, b, level)))
        return out

    def check(self, rule: str, job: str, estimate: Estimate | None) -> None:
        """Raise :class:`CeilingError` naming the job when it needs more than the limit, or
        more than the run's caps would give it."""
        if estimate is None:
            return
        if self.limit is not None and estimate.mem_mb > self.limit:
            raise CeilingError(
                f"{rule} {job} needs ~{estimate.mem_mb:,} MiB, over limits.mem_mb "
                f"{self.limit:,}; {_advice(rule)}"
            )
        for name, need in requested(estimate).items():
            cap = self.caps.get(name)
            if cap is not None and need > cap:
                raise CeilingError(
                    f"{rule} {job} needs {name}={need:,} ({PLANNED[name]}), but the run caps "
                    f"{name} at {cap:,} (a profile's `resources:`, or --resources) and "
                    f"Snakemake would silently lower the job to it (on a cluster: an allocation "
                    f"it outgrows); raise that cap to at least {need:,}"
                )

    def check_overrides(self, overrides: dict[str, dict[str, int]]) -> None:
        """A profile's ``set-resources`` may not lower a planned job's memory or runtime: raise
        :class:`CeilingError` naming the first such job, its need and the setting."""
        lowered = {
            rule: {k: v for k, v in values.items() if k in PLANNED}
            for rule, values in overrides.items()
        }
        lowered = {rule: values for rule, values in lowered.items() if values}
        if not lowered:
            return
        for rule, job, estimate in self.jobs():
            if rule not in lowered or estimate is None:
                continue
            for name, value in lowered[rule].items():
                need = requested(estimate)[name]
                if value < need:
                    raise CeilingError(
                        f"set-resources {rule}: {name}={value:,} lowers {rule} {job} below its "
                        f"plan, {name}={need:,} ({PLANNED[name]}); delete the setting (the rule "
                        "sizes each job from what it reads) or raise it"
                    )


def scheduler_caps(resources: Any) -> dict[str, int]:
    """The integer memory and runtime among Snakemake's parsed resources (a mapping of name to
    ``Resource``, or to plain values)."""
    values = {name: getattr(resources.get(name), "value", resources.get(name)) for name in PLANNED}
    return {name: value for name, value in values.items() if isinstance(value, int)}


def requested(estimate: Estimate) -> dict[str, int]:
    """What a job asks the scheduler for: its memory, and twice its time in minutes."""
    return {"mem_mb": estimate.mem_mb, "runtime": r.minutes(estimate.seconds)}


def _dims(widths: list[LayerSpec], chosen: list[LayerSpec]) -> list[int]:
    """The widths (from :meth:`Planner.layers`) of the layers Study chose."""
    names = {s.name for s in chosen}
    return [s.dim for s in widths if s.name in names]


def _written_widths(folder: Path, names: list[str]) -> dict[str, int] | None:
    """Each named layer's width from the utterance-level shards in ``folder``, if all are."""
    from strata.features.shards import read_shard_metadata, shard_path

    paths = {name: shard_path(folder, name) for name in names}
    if not all(path.is_file() for path in paths.values()):
        return None
    return {name: int(read_shard_metadata(path)["dim"]) for name, path in paths.items()}


def _weights(model: dict[str, Any], specs: list[LayerSpec]) -> int:
    """Parameters, roughly, from the layer widths: a transformer block holds ~12·d² (attention
    4·d², feed-forward 8·d²); a convolutional speaker encoder ~2·d² per block."""
    per_layer = 12 if model["family"] == "hf_transformers" else 2
    return sum(per_layer * s.dim * s.dim for s in specs if s.frame_rate is not None)


def _advice(rule: str) -> str:
    buffer = "lower probe.buffer_mb"
    fewer = "probe fewer utterances (a smaller corpus or split)"
    return {
        "train_probe": fewer,
        "train_probes": fewer,
        "train_frame_probes": buffer,
        "train_weighted_probe": fewer,
        "train_frame_probe": buffer,
        "train_frame_weighted_probe": buffer,
        "layer_similarity": "use the streaming linear_cka_minibatch measure, or fewer frames",
        "extract_features": "lower features.batch_seconds",
    }.get(rule, "raise the limit if the node has the memory")
