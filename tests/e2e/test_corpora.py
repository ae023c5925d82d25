"""The DAG on the five standard corpora's layouts (fake trees): all six SUPERB tables."""

import copy

import fake_corpora as fake
import pandas as pd
import pytest
from conftest import reduced_config, run_dag

from strata.config import frame_datasets
from strata.probes.metrics import MIN_UNITS

pytestmark = pytest.mark.e2e

TASKS = {
    "pr": ({"kind": "phoneme_recognition", "dataset": "libri"}, "per"),
    "sid": ({"kind": "classification", "dataset": "vox", "label": "speaker"}, "accuracy"),
    "asv": ({"kind": "verification", "dataset": "vox"}, "eer"),
    "ks": ({"kind": "classification", "dataset": "sc", "label": "keyword"}, "accuracy"),
    "ic": ({"kind": "classification", "dataset": "fsc", "label": "intent"}, "accuracy"),
    "er": ({"kind": "classification", "dataset": "iemocap", "label": "emotion"}, "accuracy"),
}


def units_of_test_split(data, task) -> int:
    """Independent units of a task's test split: enrolment speakers of the test trials, else
    labelled test utterances."""
    manifest = pd.read_parquet(data / "manifest.parquet")
    if task["kind"] == "verification":
        trials = pd.read_parquet(data / "trials.parquet")
        enrolment = trials.loc[trials.split == "test", "enrollment"]
        return manifest.set_index("utt_id").loc[enrolment, "speaker"].nunique()
    label = task.get("label", "phones")
    test = manifest[manifest.split == "test"]
    return int(test[label].map(lambda v: v is not None and len(v) > 0).sum())


def test_five_corpora_yield_all_six_tables(tmp_path):
    roots = tmp_path / "corpora"
    config = copy.deepcopy(reduced_config())
    config["datasets"] = {
        "libri": {"kind": "librispeech", "root": str(fake.librispeech(roots / "LibriSpeech"))},
        "vox": {  # 4 identification speakers outside the trial list: 2 give dev trials,
            "kind": "voxceleb1",  # 2 train the weighted-sum probe's speaker projection
            "root": str(fake.voxceleb1(roots / "voxceleb1")),
            "dev_trials": {"speakers": 2, "per_speaker": 4},
        },
        "sc": {"kind": "speech_commands", "root": str(fake.speech_commands(roots / "sc"))},
        "fsc": {
            "kind": "fluent_speech_commands",
            "root": str(fake.fluent_speech_commands(roots / "fsc")),
        },
        "iemocap": {"kind": "iemocap", "root": str(fake.iemocap(roots / "IEMOCAP")), "fold": 1},
    }
    config["models"] = {"ge2e": {"family": "resemblyzer", "init": "pretrained"}}
    config["similarity"]["pairs"] = "all"
    config["tasks"] = {name: task for name, (task, _) in TASKS.items()}
    config["similarity"]["dataset"] = "vox"
    config["probe"].update(lrs=[0.01], max_epochs=15, bootstrap=50)
    run = run_dag(tmp_path / "dag", config)
    for name, (task, metric) in TASKS.items():
        table = pd.read_parquet(
            run.workdir / f"results/probes/summary/{task['dataset']}/{name}.parquet"
        )
        assert set(table.metric) == {metric}, name
        assert "weighted_sum" in set(table.layer), name
        # An interval exactly where the test split has enough independent units to resample.
        few = units_of_test_split(run.workdir / "results/data" / task["dataset"], task) < MIN_UNITS
        assert (table["ci_low"].isna() if few else table["ci_low"].notna()).all(), name
    page = (run.workdir / "results/report/index.html").read_text()
    assert all(f'alt="probe curve {name}"' in page for name in TASKS)
    # Frame shards only where a job reads frames: libri (PR) and vox (frame-level similarity).
    framed = {p.parent.name for p in (run.workdir / "results/frames/ge2e").glob("*/*.frames.*")}
    assert framed == {"libri", "vox"} == frame_datasets(config)
    # A cap on one corpus re-runs that corpus's jobs only: its preparation, features, the probes
    # of its one task (ks, every layer) with their summary, and the report.
    capped = copy.deepcopy(config)
    capped["datasets"]["sc"]["caps"] = {"train": 20}
    assert run.planned_jobs(capped) == {
        "prepare_dataset": 1,
        "extract_features": 1,
        "train_probes": 1,  # every layer and the weighted sum
        "summarise_probes": 1,
        "report": 1,
    }
