"""The Snakefile runs exactly the study configured: a --configfile is the whole study.

Dry runs (``-n --forceall``, so existing results do not hide jobs) list every planned job's
wildcards; the models and tasks in them are the study's.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from defaults import default_config

from strata.models.seeds import expand_models
from strata.models.twins import twin_of
from strata.probes.kinds import TASK_KINDS

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
DEFAULT = yaml.safe_load((ROOT / "config.yaml").read_text())


def one_model_one_task() -> dict:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["models"] = {"ge2e": {"family": "resemblyzer", "init": "pretrained"}}  # no twin
    config["similarity"]["pairs"] = "all"
    config["tasks"] = {"speaker_id": config["tasks"]["speaker_id"]}
    config["similarity"]["measures"] = ["linear_cka"]
    return config


def dry_run(cwd: Path, *args: str) -> str:
    cmd = [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "-n", "--forceall", *args]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def planned(out: str) -> dict[str, set[str]]:
    """Wildcard name → values over every planned job."""
    values: dict[str, set[str]] = {}
    for line in re.findall(r"^\s+wildcards: (.*)$", out, re.M):
        for name, value in (item.split("=", 1) for item in line.split(", ")):
            values.setdefault(name, set()).add(value)
    return values


def job_counts(out: str) -> dict[str, int]:
    table = out.split("Job stats:")[1].split("\n\n")[0]
    return {
        m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"
    }


def models_and_tasks(out: str) -> tuple[set[str], set[str]]:
    jobs = planned(out)
    models = jobs.get("model", set()) | jobs.get("model_a", set()) | jobs.get("model_b", set())
    return models, jobs.get("task", set())


@pytest.mark.parametrize("where", ["checkout", "elsewhere"])
def test_configfile_is_the_whole_study(where, tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text(yaml.safe_dump(one_model_one_task()))
    out = dry_run(ROOT if where == "checkout" else tmp_path, "--configfile", str(path))
    assert models_and_tasks(out) == ({"ge2e"}, {"speaker_id"})
    assert job_counts(out) == {
        "prepare_dataset": 1,
        "prepare_model": 1,
        "extract_features": 1,
        "train_probes": 1,  # every layer and the weighted sum (probe.jobs: model)
        "summarise_probes": 1,
        "layer_similarity": 2,  # utterance and frame level
        "report": 1,
        "all": 1,
    }


@pytest.mark.parametrize("where", ["checkout", "elsewhere"])
def test_without_a_configfile_the_default_study_runs(where, tmp_path):
    out = dry_run(ROOT if where == "checkout" else tmp_path)
    models = expand_models(DEFAULT["models"])  # seeds and random twins
    # The default study shows random-init controls: the inits its trained models started from.
    trained = [m for m, spec in models.items() if spec["init"] == "trained"]
    assert trained and all(models[twin_of(m, models)]["init"] == "random" for m in trained)
    assert models_and_tasks(out) == (set(models), set(DEFAULT["tasks"]))


def test_a_random_twin_is_one_line_and_its_control_pair_follows_each_listed_pair(tmp_path):
    config = one_model_one_task()
    config["models"]["ge2e"]["random_twin"] = {"seed": 3}
    config["models"]["wavlm"] = default_config(seeds=False)["models"]["wavlm_random"]
    config["similarity"]["pairs"] = [["wavlm", "ge2e"]]
    config["similarity"]["levels"] = ["utterance"]
    path = tmp_path / "my.yaml"
    path.write_text(yaml.safe_dump(config))
    out = dry_run(tmp_path, "--configfile", str(path))
    sims = re.findall(r"results/similarity/(\w+)/(\w+)/embedded/utterance/linear_cka", out)
    assert sorted(set(sims)) == [("wavlm", "ge2e"), ("wavlm", "ge2e_twin")]
    assert job_counts(out)["prepare_model"] == 3  # wavlm, ge2e, ge2e_twin


def test_a_seeded_model_plans_every_job_for_each_member(tmp_path):
    """seeds: [0, 1] on a trained and a random model: each member is trained, prepared and
    probed; a pair and a second iteration naming a seeded model read each seed's member."""
    config = one_model_one_task()
    for name in ("wavlm_mp", "wavlm_random"):
        model = {k: v for k, v in DEFAULT["models"][name].items() if k != "seed"}
        config["models"][name] = copy.deepcopy(model) | {"seeds": [0, 1]}
    config["models"]["wavlm_mp2"] = copy.deepcopy(config["models"]["wavlm_mp"])
    config["models"]["wavlm_mp2"]["train"]["targets"] = {"source": "wavlm_mp", "layer": "layer_04"}
    config["similarity"].update(pairs=[["wavlm_mp", "ge2e"]], levels=["utterance"])
    config["training"] = {"checkpoints": "train"}  # no shipped checkpoints of the members
    path = tmp_path / "my.yaml"
    path.write_text(yaml.safe_dump(config))
    out = dry_run(tmp_path, "--configfile", str(path))
    members = [f"{m}_s{s}" for m in ("wavlm_mp", "wavlm_random", "wavlm_mp2") for s in (0, 1)]
    assert models_and_tasks(out) == ({"ge2e", *members}, {"speaker_id"})
    counts = job_counts(out)
    assert counts["train_model"] == 4  # wavlm_mp and wavlm_mp2, two seeds each
    assert counts["prepare_model"] == counts["extract_features"] == 7
    assert counts["train_probes"] == 7
    # Each seed's second iteration clusters the first iteration's member of its seed.
    trains = re.findall(r"input: results/data/pretrain(.*)\n\s+output: results/trained/(\w+)", out)
    assert sorted(trains) == [
        ("", "wavlm_mp_s0"),
        ("", "wavlm_mp_s1"),
        (", results/models/wavlm_mp_s0", "wavlm_mp2_s0"),
        (", results/models/wavlm_mp_s1", "wavlm_mp2_s1"),
    ]
    sims = re.findall(r"results/similarity/(\w+)/(\w+)/embedded/utterance/linear_cka", out)
    assert sorted(set(sims)) == [
        ("wavlm_mp_s0", "ge2e"),
        ("wavlm_mp_s1", "ge2e"),
        ("wavlm_random_s0", "ge2e"),
        ("wavlm_random_s1", "ge2e"),
    ]


def test_later_configfiles_merge_into_earlier_ones(tmp_path):
    study, extra = tmp_path / "my.yaml", tmp_path / "extra.yaml"
    study.write_text(yaml.safe_dump(one_model_one_task()))
    style = {"kind": "classification", "dataset": "embedded", "label": "style"}
    extra.write_text(yaml.safe_dump({"tasks": {"style": style}}))
    out = dry_run(tmp_path, "--configfile", str(study), str(extra))
    assert models_and_tasks(out) == ({"ge2e"}, {"speaker_id", "style"})


def test_a_nested_config_override_arrives_as_text_and_the_error_says_how_to_fix_it(tmp_path):
    cmd = [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "-n", "--config", "probe={batch_size: 8}"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "'probe.batch_size'" in proc.stdout
    assert "--configfile study.yaml overrides.yaml" in proc.stdout


def test_a_config_error_stops_the_dry_run_naming_the_key(tmp_path):
    config = one_model_one_task()
    config["datasets"]["embedded"]["splits"]["verification_speakers"] = 1
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    cmd = [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "-n", "--configfile", str(path)]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "datasets.embedded.splits.verification_speakers" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_the_snakefile_imports_nothing_heavy_at_parse_time():
    """Every Snakemake start (each cluster job's too) parses the Snakefile: the strata modules
    it and the rules import must not pull in torch, pandas or matplotlib."""
    sources = [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk"))]
    pattern = re.compile(r"^(?:from|import) (strata[\w.]*)", re.M)
    imports = [f"import {m}" for path in sources for m in pattern.findall(path.read_text())]
    assert len(imports) >= 4  # config, models, twins, probe kinds, listing, report labels
    heavy = ["torch", "pandas", "matplotlib", "pyarrow", "transformers", "speechbrain"]
    code = "\n".join([*imports, "import sys", f"print(sorted(set({heavy!r}) & set(sys.modules)))"])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", imports


def test_the_default_study_loads_the_shipped_checkpoints_and_train_retrains_them(tmp_path):
    """training.checkpoints: shipped plans no training and no pretraining corpus; train plans
    both (what `make train` runs)."""
    shipped = job_counts(dry_run(tmp_path))
    assert "train_model" not in shipped
    assert shipped["prepare_dataset"] == 1  # the probed corpus only
    trained = [m for m, spec in expand_models(DEFAULT["models"]).items() if "train" in spec]
    out = dry_run(
        tmp_path, "--config", 'training={"checkpoints": "train"}', "--until", "train_model"
    )
    assert job_counts(out) == {"prepare_dataset": 1, "train_model": len(trained)}
    assert planned(out)["dataset"] == {"pretrain"}
    assert planned(out)["model"] == set(trained)


RULES_BY_JOBS = {  # probe.jobs → (frame-level rules, utterance-level rules)
    "model": ({"train_frame_probes"}, {"train_probes"}),
    "layer": ({"train_frame_probe", "train_frame_weighted_probe"},
              {"train_probe", "train_weighted_probe"}),
}  # fmt: skip


@pytest.mark.parametrize("jobs", ["model", "layer"])
def test_frame_level_probes_are_rules_of_their_own_outside_the_probe_group(jobs, tmp_path):
    """CTC probes (the default's phones task) go to train_frame_*; a profile sends those rules
    to a GPU partition, and the utterance-level probes stay grouped. probe.jobs: model runs a
    model's probes of a task in one job; layer, one job per probe."""
    config = copy.deepcopy(DEFAULT)
    config["probe"]["jobs"] = jobs
    path = tmp_path / "my.yaml"
    path.write_text(yaml.safe_dump(config))
    out = dry_run(tmp_path, "--forceall", "--configfile", str(path))
    chunks = re.split(r"^\s*rule (\w+):$", out, flags=re.M)[1:]  # name, its lines, name, …
    jobs_seen = [
        (rule, re.search(r"wildcards: (.*)", text)) for rule, text in zip(*[iter(chunks)] * 2)
    ]
    frame_tasks = {t for t, spec in DEFAULT["tasks"].items() if TASK_KINDS[spec["kind"]].frames}
    assert frame_tasks, "the default study has a frame-level task"
    by_rule: dict[str, set[str]] = {}
    per_rule: dict[str, int] = {}
    for rule, wildcards in jobs_seen:
        pairs = [] if wildcards is None else wildcards[1].split(", ")
        task = dict(item.split("=", 1) for item in pairs).get("task")
        if task is not None and rule.startswith("train_"):
            by_rule.setdefault(rule, set()).add(task)
            per_rule[rule] = per_rule.get(rule, 0) + 1
    frame_rules, utterance_rules = RULES_BY_JOBS[jobs]
    utterance_tasks = set(DEFAULT["tasks"]) - frame_tasks
    assert set(by_rule) == frame_rules | utterance_rules
    assert all(by_rule[r] == frame_tasks for r in frame_rules)
    assert all(by_rule[r] == utterance_tasks for r in utterance_rules)
    models = expand_models(DEFAULT["models"])
    if jobs == "model":  # one job per model and task
        assert per_rule["train_probes"] == len(models) * len(utterance_tasks)
    # A group job's members are listed indented under it; everything else at the margin.
    grouped = set(re.findall(r"^    rule (\w+):", out, re.M))
    alone = set(re.findall(r"^rule (\w+):", out, re.M))
    assert grouped == utterance_rules
    assert frame_rules <= alone - grouped


@pytest.mark.parametrize("device", ["auto", "cpu"])
def test_a_similarity_job_asks_for_a_gpu_only_where_its_measure_uses_one(device, tmp_path):
    config = one_model_one_task()
    config["similarity"].update(measures=["linear_cka", "rbf_cka"], device=device)
    path = tmp_path / "my.yaml"
    path.write_text(yaml.safe_dump(config))
    out = dry_run(tmp_path, "--configfile", str(path))
    jobs = re.findall(
        r"results/similarity/\S+/(\w+)\.parquet\n(?:.*\n)*?\s+resources: .*?gpu=(\d)", out
    )
    gpus = {measure: int(n) for measure, n in jobs}
    assert gpus == {"linear_cka": int(device == "auto"), "rbf_cka": 0}
