"""The real DAG end to end on a reduced config: assertions on artifact contents."""

import hashlib
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import resemblyzer
import yaml
from conftest import run_dag

from strata.features import read_shard, read_shard_metadata
from strata.io import read_json
from strata.manifest import read_manifest
from strata.models import layer_specs
from strata.models.seeds import expand_models
from strata.plan.jobs import Planner
from strata.similarity import read_similarity, read_similarity_table
from strata.similarity.measures import get_measure

pytestmark = pytest.mark.e2e


def models_of(config: dict) -> dict[str, dict]:
    """The configured models (seeds expanded) and their random-init twins."""
    return expand_models(config["models"])


def test_self_similarity_has_unit_diagonal_and_is_symmetric(dag_run):
    for model, cfg in models_of(dag_run.config).items():
        for level in ("utterance", "frame"):
            path = f"results/similarity/{model}/{model}/embedded/{level}/linear_cka.parquet"
            matrix = read_similarity(dag_run.workdir / path)
            np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-6)
            np.testing.assert_allclose(matrix, matrix.T, atol=1e-6)
            specs = [s for s in layer_specs(cfg) if level == "utterance" or s.frame_rate]
            assert list(matrix.index) == [s.name for s in specs]


def test_every_pair_and_level_has_values_intervals_and_p_values(dag_run):
    models = list(models_of(dag_run.config))
    assert "ge2e_twin" in models  # the default config's control
    files = sorted((dag_run.workdir / "results/similarity").rglob("*.parquet"))
    assert len(files) == 2 * len(models) * (len(models) + 1) // 2  # two levels
    manifest = read_manifest(dag_run.workdir / "results/data/embedded/manifest.parquet")
    low, high = get_measure("linear_cka").properties.value_range
    frames = dag_run.config["similarity"]["frames"]
    k = frames["per_utterance"]  # every utterance here has that many aligned frames
    sampled = min(frames["n"] // k, len(manifest)) * k
    for path in files:
        table = read_similarity_table(path)
        level = table.attrs["level"]
        assert set(table["n"]) == {len(manifest) if level == "utterance" else sampled}, path
        assert table["value"].between(low, high + 1e-9).all()
        assert (table["ci_low"] <= table["ci_high"]).all()
        assert set(np.rint(table["p"] * 20)) <= set(range(1, 21))  # 19 permutations
        # max-T adjusts each cell against the whole matrix: never below the cell's own p.
        assert (table["p_fwer"] >= table["p"] - 1e-12).all() and table["p_fwer"].max() <= 1
    # WavLM (50 Hz) against ECAPA (100 Hz): compared at 50 Hz.
    frames = {}
    for path in (dag_run.workdir / "results/similarity").glob("*/*/embedded/frame/*.parquet"):
        meta = read_similarity_table(path).attrs
        frames[meta["model_a"], meta["model_b"]] = meta
    meta = frames.get(("wavlm_random", "ecapa_random")) or frames[("ecapa_random", "wavlm_random")]
    assert sorted(meta["frame_rates"]) == [50.0, 100.0] and meta["frame_rate"] == 50.0


def test_a_trained_model_differs_from_its_random_twin(dag_run):
    """GE2E's embedding against its twin's is far from GE2E against itself."""
    path = "results/similarity/ge2e/ge2e_twin/embedded/utterance/linear_cka.parquet"
    control = read_similarity(dag_run.workdir / path)
    assert control.loc["embedding", "embedding"] < 0.9


def test_every_shard_holds_the_manifest_ids_in_order(dag_run):
    manifest = read_manifest(dag_run.workdir / "results/data/embedded/manifest.parquet")
    for model, cfg in dag_run.config["models"].items():
        card = read_json(dag_run.workdir / f"results/models/{model}/card.json")
        for index, spec in enumerate(layer_specs(cfg)):
            path = dag_run.workdir / f"results/features/{model}/embedded/{spec.name}.parquet"
            ids, x = read_shard(path)
            assert ids == manifest["utt_id"].tolist()
            assert np.isfinite(x).all() and x.std(0).max() > 0
            meta = read_shard_metadata(path)
            assert meta["weights_sha256"] == card["weights_sha256"]
            assert (meta["layer"], meta["layer_index"]) == (spec.name, index)


def test_the_plan_counts_the_bytes_the_run_wrote(dag_run):
    """strata.plan's bytes per extract_features job against the shards on disk (within 5 %),
    from the prepared manifest's durations and each layer's declared width."""
    planner = Planner(dag_run.config, dag_run.workdir)
    results = dag_run.workdir / "results"
    for model_dir in sorted((results / "features").iterdir()):
        for dataset_dir in sorted(model_dir.iterdir()):
            frames = results / "frames" / model_dir.name / dataset_dir.name
            written = [
                sum(f.stat().st_size for f in d.glob("*.parquet")) for d in (dataset_dir, frames)
            ]
            planned = planner.extract(model_dir.name, dataset_dir.name)
            assert abs(planned.bytes / sum(written) - 1) <= 0.05, (dataset_dir, planned, written)
            assert abs(planned.frame_bytes / written[1] - 1) <= 0.05, (frames, planned, written)


def test_ge2e_card_hashes_the_real_packaged_weights(dag_run):
    card = read_json(dag_run.workdir / "results/models/ge2e/card.json")
    weights = Path(resemblyzer.__file__).parent / "pretrained.pt"
    assert card["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()


def test_trained_model_card_holds_the_trained_weights_and_how_they_were_made(dag_run):
    root = dag_run.workdir / "results"
    card = read_json(root / "models/ecapa_aam/card.json")
    trained = root / "trained/ecapa_aam"
    weights = (trained / "checkpoint/embedding_model.ckpt").read_bytes()
    assert card["init"] == "trained" and card["source"] == "checkpoint"
    assert card["weights_sha256"] == hashlib.sha256(weights).hexdigest()
    assert card["training"]["objective"] == "aam_softmax" and card["training"]["epochs"] == 2
    losses = pd.read_parquet(trained / "losses.parquet")
    assert card["training"]["steps"] == len(losses) > 0
    manifest = read_manifest(root / "data/embedded/manifest.parquet")
    assert card["training"]["utterances"] == (manifest["split"] == "train").sum()
    # Training moved the weights away from the random init it started from.
    init = read_json(root / "models/ecapa_random/card.json")
    assert init["weights_sha256"] != card["weights_sha256"]


def test_report_states_the_contrasts_and_draws_the_training_losses(dag_run):
    page = (dag_run.workdir / "results/report/index.html").read_text()
    section = page[page.index('id="contrasts"') : page.index('id="training"')]
    rows = re.findall(
        r"<tr><td>([^<]+)</td><td>([^<]+)</td><td><strong>([^<]+)</strong></td>\s*<td>.*?</td>"
        r"\s*<td>([^<]*)</td></tr>",
        section,
    )
    claims = {claim: (single, adjusted, evidence) for claim, single, adjusted, evidence in rows}
    # Holm's family is every tested comparison the table lists, each with its adjusted p.
    family = int(re.search(r"adjusted \(family of (\d+)\)", section).group(1))
    assert family == sum(evidence.count(", Holm ") for *_, evidence in rows) > 0
    # The trained ECAPA against its random init on speaker ID, judged on the paired difference
    # of the layers best on dev: the evidence's Δ is the tables' difference of test scores, and
    # the verdict's direction follows its sign; Holm's p is never below the single one.
    sid = summary(dag_run, "speaker_id")
    aam, init = best_layer_score(sid, "ecapa_aam"), best_layer_score(sid, "ecapa_random")
    claim = "ecapa_aam learned: it beats its random init ecapa_random on its own tasks"
    single, adjusted, evidence = claims[claim]
    first = re.search(
        r"speaker_id: ecapa_aam/(\w+) vs ecapa_random/(\w+): Δ ([-+.\d]+) .*?p ([\d.e-]+), "
        r"Holm ([\d.e-]+)",
        evidence,
    )
    assert first.group(1, 2) == (aam["layer"], init["layer"])
    assert float(first.group(3)) == pytest.approx(aam["test"] - init["test"], abs=1e-3)
    assert float(first.group(5)) >= float(first.group(4))
    side = {True: ("reproduced", "within noise"), False: ("reversed", "not reproduced")}
    assert single in side[aam["test"] > init["test"]] or single == "not testable here"
    # verdicts.csv is the same table as data: each claim's outcomes, Holm's family, Δ.
    table = pd.read_csv(dag_run.workdir / "results/report/verdicts.csv", dtype={"seed": str})
    by_claim = table.drop_duplicates("claim").set_index("claim")
    assert {c: tuple(by_claim.loc[c, ["outcome", "adjusted"]]) for c in claims} == {
        c: (single, adjusted) for c, (single, adjusted, _) in claims.items()
    }
    assert table["p_holm"].notna().sum() == family
    row = table[table["comparison"].str.startswith("speaker_id: ecapa_aam/", na=False)].iloc[0]
    assert row["delta"] == pytest.approx(float(first.group(3)), abs=1e-3)
    assert 'alt="training losses"' in page
    figure = dag_run.workdir / "results/report/figures/training_losses.png"
    assert figure.read_bytes().startswith(b"\x89PNG")


def test_train_block_change_reruns_only_that_models_jobs(dag_run):
    config = dag_run.copy_config()
    config["models"]["ecapa_aam"]["train"]["epochs"] = 3
    assert dag_run.planned_jobs(config) == {"train_model": 1} | one_models_jobs(config, "ecapa_aam")


def probe_jobs(config: dict, tasks=None) -> dict[str, int]:
    """Probe jobs per rule the DAG plans for ``tasks``: one per model and task (probe.jobs:
    model, every layer and the weighted sum), the frame-level (CTC) task's in a rule of its
    own."""
    counts: dict[str, int] = {}
    for task in tasks or config["tasks"]:
        frames = config["tasks"][task]["kind"] == "phoneme_recognition"
        rule = "train_frame_probes" if frames else "train_probes"
        counts[rule] = counts.get(rule, 0) + len(models_of(config))
    return counts


def one_models_jobs(config: dict, model: str) -> dict[str, int]:
    """The jobs a change to one model plans: its own, its similarity pairs, the summaries."""
    return {
        "prepare_model": 1,
        "extract_features": 1,
        **probe_jobs({**config, "models": {model: config["models"][model]}}),
        "summarise_probes": len(config["tasks"]),
        "layer_similarity": 2 * len(models_of(config)),  # its pairs, two levels
        "report": 1,
    }


def summary(run, task: str) -> pd.DataFrame:
    return pd.read_parquet(run.workdir / f"results/probes/summary/embedded/{task}.parquet")


def test_pretrained_speaker_model_identifies_speakers(dag_run):
    table = summary(dag_run, "speaker_id")
    assert_identifies_speakers(table)
    assert set(table.model) == set(models_of(dag_run.config))
    # every layer (pooled rows) and the weighted sum, of every model
    assert len(table) == sum(len(layer_specs(m)) + 1 for m in models_of(dag_run.config).values())
    assert (table.layer == "weighted_sum").sum() == len(models_of(dag_run.config))
    csv = pd.read_csv(dag_run.workdir / "results/probes/summary/embedded/speaker_id.csv")
    assert csv["test"].tolist() == pytest.approx(table["test"].tolist(), abs=1e-6)


def test_every_task_kind_yields_its_metric_with_intervals(dag_run):
    metrics = {"speaker_id": "accuracy", "keyword": "accuracy", "asv": "eer", "phones": "per"}
    for task, metric in metrics.items():
        table = summary(dag_run, task)
        assert set(table.metric) == {metric}, task
        if task == "asv":  # two test-trial speakers: too few to resample, so no interval
            assert table.ci_low.isna().all() and table.ci_high.isna().all()
            continue
        assert (table.ci_low <= table.test + 1e-9).all() and (
            table.test <= table.ci_high + 1e-9
        ).all()
    # GE2E is a speaker model: some layer verifies the held-out speakers far above chance, and
    # the layer chosen on dev trials is below chance on the test trials (other speakers).
    asv = summary(dag_run, "asv")
    ge2e = asv[(asv.model == "ge2e") & (asv.layer != "weighted_sum")]
    assert ge2e["dev"].min() < 0.2 and ge2e["test"].min() < 0.3
    assert ge2e.sort_values(["dev", "layer_index"]).iloc[0]["test"] < 0.5
    # Phone recognition reads frame-level layers only.
    phones = summary(dag_run, "phones")
    assert "embedding" not in set(phones.layer) and "lstm_1" in set(phones.layer)


def redecoded_per(run, model: str, layer: str) -> float:
    """The test PER of a saved CTC probe, decoded here from its frame shard (standardise by the
    saved statistics, the projection and the linear head, best path) and scored by torchaudio's
    edit distance."""
    import torch
    from torchaudio.functional import edit_distance

    from strata.probes.checkpoint import read_probe

    root = run.workdir / "results"
    state = read_probe(root / f"probes/{model}/embedded/phones/{layer}/probe.safetensors")
    ids, frames = read_shard(root / f"frames/{model}/embedded/{layer}.frames.parquet")
    manifest = read_manifest(root / "data/embedded/manifest.parquet").set_index("utt_id")
    x = (torch.from_numpy(frames) - state["front.mean_0"]) / state["front.std_0"]
    # One layer: the weighted sum's softmax weight is 1, so the front is the projection alone.
    z = x @ torch.from_numpy(state["front.projections.0.weight"]).T
    z = z + state["front.projections.0.bias"]
    best = (z @ torch.from_numpy(state["head.weight"]).T + state["head.bias"]).argmax(-1)
    ids = np.array(ids)
    errors = phones = 0
    for utt in manifest.index[manifest["split"] == "test"]:
        path = best[torch.from_numpy(ids == utt)].tolist()
        merged = [t for i, t in enumerate(path) if t != 0 and (i == 0 or t != path[i - 1])]
        reference = list(manifest.loc[utt, "phones"])
        errors += edit_distance([state["vocab"][t - 1] for t in merged], reference)
        phones += len(reference)
    return errors / phones


def test_phone_and_keyword_probes_score_what_their_predictions_score(dag_run):
    phones = summary(dag_run, "phones")
    for model in ("ge2e", "wavlm_random"):
        chosen = best_layer_score(phones, model, higher_is_better=False)
        assert chosen["test"] == pytest.approx(redecoded_per(dag_run, model, chosen["layer"]))
    assert (phones["chance"] == 1.0).all()  # an empty transcript deletes every phone
    # Keywords (4 words, balanced test): GE2E's LSTMs carry them well above the best constant
    # guess at the layer best on dev, the interval clear of it.
    keyword = summary(dag_run, "keyword")
    chosen = best_layer_score(keyword, "ge2e")
    assert chosen["ci_low"] > chosen["chance"] + 0.2, chosen


def test_report_shows_all_models_tasks_and_pairs(dag_run):
    page = (dag_run.workdir / "results/report/index.html").read_text()
    models = models_of(dag_run.config)
    for model in models:
        assert f"<code>{model}</code>" in page
    for task in dag_run.config["tasks"]:
        assert f'alt="probe curve {task}"' in page
    pairs = len(models) * (len(models) + 1) // 2
    heatmaps = re.findall(r'alt="linear_cka, (\w+) level: [^"]*\(n=\d+\)"', page)
    assert sorted(heatmaps) == ["frame"] * pairs + ["utterance"] * pairs
    lines = re.findall(r'alt="linear_cka, \w+ level: [^"]*\(lines\)"', page)
    assert len(lines) == 2 * (pairs - len(models))  # cross-model pairs, both levels
    assert "beside it, control: ge2e_twin × ge2e_twin" in page


def test_second_invocation_has_nothing_to_do(dag_run):
    assert dag_run.planned_jobs() == {}


def test_probe_param_change_reruns_only_probes(dag_run):
    config = dag_run.copy_config()
    config["probe"]["lrs"] = [0.01]
    jobs = dag_run.planned_jobs(config)
    # A task with its own learning rates (the CTC task's `probe:` block) keeps them.
    tasks = [t for t, task in config["tasks"].items() if "lrs" not in task.get("probe", {})]
    assert jobs == {
        **probe_jobs(config, tasks),
        "summarise_probes": len(tasks),
        "report": 1,
    }


def test_a_tasks_probe_override_reruns_only_that_tasks_probes(dag_run):
    config = dag_run.copy_config()
    config["tasks"]["phones"]["probe"] = {"max_epochs": 3}
    assert dag_run.planned_jobs(config) == {
        **probe_jobs(config, ["phones"]),
        "summarise_probes": 1,
        "report": 1,
    }


def test_model_change_reruns_only_that_models_jobs(dag_run):
    config = dag_run.copy_config()
    config["models"]["ecapa_random"]["seed"] = 1
    assert dag_run.planned_jobs(config) == one_models_jobs(config, "ecapa_random")


def test_an_added_model_runs_its_jobs_and_its_new_pairs(dag_run):
    config = dag_run.copy_config()
    config["models"]["ecapa_b"] = {**config["models"]["ecapa_random"], "seed": 7}
    before = len(models_of(dag_run.config))
    only = {**config, "models": {"ecapa_b": config["models"]["ecapa_b"]}}
    assert dag_run.planned_jobs(config) == {
        "prepare_model": 1,
        "extract_features": 1,
        **probe_jobs(only),
        "summarise_probes": len(config["tasks"]),
        "layer_similarity": 2 * (before + 1),  # with each model and itself, two levels
        "report": 1,
    }


def similarity_jobs(config: dict, levels=("utterance", "frame")) -> int:
    """Similarity tables the DAG plans: every unordered pair (self-pairs too) per level."""
    n = len(models_of(config))
    return n * (n + 1) // 2 * len(levels) * len(config["similarity"]["measures"])


def test_a_similarity_control_change_reruns_only_similarity(dag_run):
    config = dag_run.copy_config()
    config["similarity"]["controls"]["permutations"] += 1
    assert dag_run.planned_jobs(config) == {
        "layer_similarity": similarity_jobs(config),
        "report": 1,
    }


def test_a_frame_sampling_change_reruns_only_frame_level_similarity(dag_run):
    config = dag_run.copy_config()
    config["similarity"]["frames"]["seed"] += 1
    assert dag_run.planned_jobs(config) == {
        "layer_similarity": similarity_jobs(config, ["frame"]),
        "report": 1,
    }


def test_a_feature_change_reruns_extraction_and_everything_reading_it(dag_run):
    config = dag_run.copy_config()
    config["features"]["batch_seconds"] = 16
    models = len(models_of(config))
    assert dag_run.planned_jobs(config) == {
        "extract_features": models,
        **probe_jobs(config),
        "summarise_probes": len(config["tasks"]),
        "layer_similarity": similarity_jobs(config),
        "report": 1,
    }
    # Whether frame shards are kept afterwards does not change what they hold: no job.
    config = dag_run.copy_config()
    config["features"]["keep_frames"] = False
    assert dag_run.planned_jobs(config) == {}


def test_an_embedded_corpus_change_reruns_what_reads_the_corpus(dag_run):
    """The corpus is regenerated; the trained model (trained on it here) retrains; the
    random-init and pretrained models' cards do not depend on it."""
    config = dag_run.copy_config()
    config["datasets"]["embedded"]["trials_per_speaker"] += 2  # half target, half not
    models = models_of(config)
    trained = [m for m in config["models"] if config["models"][m]["init"] == "trained"]
    assert dag_run.planned_jobs(config) == {
        "prepare_dataset": 1,
        "train_model": len(trained),
        "prepare_model": len(trained),
        "extract_features": len(models),
        **probe_jobs(config),
        "summarise_probes": len(config["tasks"]),
        "layer_similarity": similarity_jobs(config),
        "report": 1,
    }


def test_bad_config_fails_at_parse_time_naming_the_key(dag_run):
    config = dag_run.copy_config()
    config["probe"]["learning_rate"] = 0.1
    proc = dag_run.snakemake("-n", config=config, check=False)
    assert proc.returncode != 0
    assert "'probe.learning_rate': is not allowed" in proc.stdout + proc.stderr
    config = yaml.safe_load(yaml.safe_dump(dag_run.config))
    config["models"]["ge2e"]["family"] = "nemo"
    proc = dag_run.snakemake("-n", config=config, check=False)
    assert "models.ge2e.family" in proc.stdout + proc.stderr


def assert_identifies_speakers(table: pd.DataFrame) -> None:
    """GE2E, a real speaker encoder: some layer identifies most test utterances, and the layer
    the report picks (best on dev; 24 test utterances here) is above chance with its interval."""
    layers = table[(table.model == "ge2e") & (table.layer != "weighted_sum")]
    chance = layers["chance"].iloc[0]
    assert layers["test"].max() >= max(0.8, 3 * chance)
    assert best_layer_score(table, "ge2e")["ci_low"] > chance


def best_layer_score(table: pd.DataFrame, model: str, higher_is_better=True) -> pd.Series:
    """The model's score as the report gives it: the test score of the layer best on dev."""
    rows = table[(table.model == model) & (table.layer != "weighted_sum")]
    order = [not higher_is_better, True]
    return rows.sort_values(["dev", "layer_index"], ascending=order).iloc[0]


def test_user_manifest_dataset_runs_the_same_analysis(dag_run, tmp_path):
    corpus = dag_run.workdir / "results/data/embedded"
    manifest = read_manifest(corpus / "manifest.parquet")
    # A user's own table: relative paths, only the columns a study needs, its own order.
    table = manifest.loc[manifest.split != "verification", ["utt_id", "path", "split", "speaker"]]
    table = table.iloc[::-1]
    audio, listed = tmp_path / "audio", table.path.tolist()
    for path in listed:
        (audio / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(corpus / path, audio / path)
    csv = tmp_path / "mine.csv"
    table.to_csv(csv, index=False)
    config = dag_run.copy_config()
    config["datasets"] = {"mine": {"kind": "manifest", "path": str(csv), "audio_root": str(audio)}}
    config["models"] = {"ge2e": {"family": "resemblyzer", "init": "pretrained"}}
    config["similarity"]["pairs"] = "all"
    config["tasks"] = {
        "speaker_id": {"kind": "classification", "dataset": "mine", "label": "speaker"}
    }
    config["similarity"]["dataset"] = "mine"
    run = run_dag(tmp_path / "dag", config)
    ids, _ = read_shard(run.workdir / "results/features/ge2e/mine/lstm_1.parquet")
    assert ids == table.utt_id.tolist()
    table = pd.read_parquet(run.workdir / "results/probes/summary/mine/speaker_id.parquet")
    assert_identifies_speakers(table)
    assert "Dataset <code>mine</code>" in (run.workdir / "results/report/index.html").read_text()
    # Editing the table, or one audio file it lists, re-runs everything computed on the
    # dataset: all but the model's card (the only dataset here).
    assert run.planned_jobs() == {}
    every_job = run.planned_jobs(args=["--forceall"])
    on_data = {rule: n for rule, n in every_job.items() if rule != "prepare_model"}
    time.sleep(1)
    csv.write_text(csv.read_text() + "\n")
    assert run.planned_jobs() == on_data
    run.snakemake("--touch")
    assert run.planned_jobs() == {}
    (audio / listed[0]).write_bytes((audio / listed[1]).read_bytes())
    assert run.planned_jobs() == on_data
