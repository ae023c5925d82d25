"""configs/paper.yaml: the paper's grid validates and plans the jobs its config implies.

The dry run needs no corpus (every root points at a folder that does not exist) and no weights:
parse time reads only each checkpoint's architecture, from stand-ins (strata.benchmarks.dag): an
HF cache holding each hub model's config.json at its pinned revision, empty ECAPA state-dict
files. The expected job counts are computed here from the config and each model's layer specs,
not from rules/common.smk.
"""

from __future__ import annotations

import re
from itertools import combinations_with_replacement

import pytest

from strata.benchmarks.dag import PAPER, job_counts, load_paper, make_standins, snakemake
from strata.config import validate_config
from strata.models import layer_specs
from strata.models.seeds import expand_models

HUB = {  # the paper's speech SSL models → transformer layers (hidden states: + the CNN output)
    "microsoft/wavlm-base": 12,
    "microsoft/wavlm-base-plus": 12,
    "microsoft/wavlm-large": 24,
    "facebook/hubert-base-ls960": 12,
    "facebook/hubert-large-ll60k": 24,
}
ECAPA_FRAME = ["tdnn", "seres2net_1", "seres2net_2", "seres2net_3", "mfa"]
ECAPA = [*ECAPA_FRAME, "asp", "embedding"]
SUPERB = {  # task kind, label, dataset kind
    "pr": ("phoneme_recognition", None, "librispeech"),
    "sid": ("classification", "speaker", "voxceleb1"),
    "asv": ("verification", "speaker", "voxceleb1"),
    "ks": ("classification", "keyword", "speech_commands"),
    "ic": ("classification", "intent", "fluent_speech_commands"),
    "er": ("classification", "emotion", "iemocap"),
}
FRAME_TASKS = {"phoneme_recognition"}  # CTC reads every frame: frame-level layers only


@pytest.fixture(scope="module")
def paper() -> dict:
    return load_paper()


@pytest.fixture(scope="module")
def planned(paper, tmp_path_factory):
    """(job counts of the dry run, the config with stand-in paths, its layer specs)."""
    root = tmp_path_factory.mktemp("paper")
    missing = root / "no-data"
    roots = {name: {"root": str(missing / name)} for name in paper["datasets"]}
    roots["sc"]["test_root"] = str(missing / "sc-test")
    standins = make_standins(root, paper, extra={"datasets": roots})
    assert not list(root.rglob("*.safetensors")) and not list(root.rglob("*.bin"))
    workdir = root / "work"
    workdir.mkdir()
    _, proc = snakemake(workdir, standins, PAPER, "-n")
    config = {**paper, "models": {k: dict(v) for k, v in paper["models"].items()}}
    for name, path in standins.paths.items():
        config["models"][name]["path"] = path
    with pytest.MonkeyPatch.context() as mp:
        import huggingface_hub.constants

        mp.setattr(huggingface_hub.constants, "HF_HUB_CACHE", standins.env["HF_HUB_CACHE"])
        specs = {name: layer_specs(m) for name, m in expand_models(config["models"]).items()}
    return job_counts(proc.stdout), config, specs, proc.stdout


def test_paper_config_validates_as_written(paper):
    validate_config(paper)


def test_every_paper_model_is_configured_and_pinned(paper):
    models = paper["models"]
    hub = {m["path"]: m for m in models.values() if m["family"] == "hf_transformers"}
    assert set(hub) == set(HUB)
    for model in hub.values():
        assert model["init"] == "pretrained"
        assert re.fullmatch(r"[0-9a-f]{40}", model["revision"]), model  # a commit, not a branch
    speakers = {n: m for n, m in models.items() if m["family"] != "hf_transformers"}
    assert set(speakers) == {"ecapa_supervised", "ecapa_dino"}
    assert all(m["family"] == "speechbrain_ecapa" for m in speakers.values())
    assert speakers["ecapa_dino"]["frontend"] == "rdino_logmel"


def test_the_six_superb_tasks_and_similarity_over_every_pair(paper):
    tasks, datasets = paper["tasks"], paper["datasets"]
    assert set(tasks) == set(SUPERB)
    for name, (kind, label, corpus) in SUPERB.items():
        task = tasks[name]
        assert task["kind"] == kind and datasets[task["dataset"]]["kind"] == corpus, name
        assert label is None or task["label"] == label, name
    similarity = paper["similarity"]
    assert similarity["pairs"] == "all" and "linear_cka" in similarity["measures"]


def test_layer_specs_are_the_papers(planned, paper):
    _, _, specs, _ = planned
    for name, model in paper["models"].items():
        names = [s.name for s in specs[name]]
        frames = [s.name for s in specs[name] if s.frame_rate is not None]
        if model["family"] == "hf_transformers":
            expected = [f"layer_{i:02d}" for i in range(HUB[model["path"]] + 1)]
            assert names == frames == expected, name
            assert {s.frame_rate for s in specs[name]} == {50.0}, name
        else:
            assert (names, frames) == (ECAPA, ECAPA_FRAME), name


def test_dry_run_plans_what_the_config_implies_without_data_or_weights(planned):
    counts, config, specs, stdout = planned
    models, tasks = expand_models(config["models"]), config["tasks"]
    similarity = config["similarity"]
    datasets = {t["dataset"] for t in tasks.values()} | {similarity["dataset"]}

    def layers(model, frames_only):
        return [s for s in specs[model] if s.frame_rate is not None or not frames_only]

    pairs = list(combinations_with_replacement(models, 2))
    frame_tasks = [t for t in tasks.values() if t["kind"] in FRAME_TASKS]
    utterance_tasks = [t for t in tasks.values() if t["kind"] not in FRAME_TASKS]
    expected = {
        "prepare_dataset": len(datasets),
        "prepare_model": len(models),
        "extract_features": len(models) * len(datasets),
        "train_probe": sum(
            len(layers(model, False)) for task in utterance_tasks for model in models
        ),
        "train_weighted_probe": len(utterance_tasks) * len(models),
        "train_frame_probe": sum(
            len(layers(model, True)) for task in frame_tasks for model in models
        ),
        "train_frame_weighted_probe": len(frame_tasks) * len(models),
        "summarise_probes": len(tasks),
        "layer_similarity": len(similarity["measures"])
        * sum(
            1
            for a, b in pairs
            for level in similarity["levels"]
            if layers(a, level == "frame") and layers(b, level == "frame")
        ),
        "report": 1,
        "all": 1,
    }
    assert {rule: n for rule, n in counts.items() if rule != "total"} == expected
    assert counts["total"] == sum(expected.values())
    # 7 models x 5 corpora; 5 tasks x 103 layers, PR on 99 frame-level ones; 28 pairs x 2 levels
    assert (expected["extract_features"], expected["train_probe"]) == (35, 515)
    assert expected["train_frame_probe"] == 99
    assert expected["layer_similarity"] == 56
    planned_models = set(re.findall(r"wildcards: model=(\w+)", stdout))
    assert planned_models == set(models)
