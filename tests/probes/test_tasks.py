"""A task's ``where``: which utterances and trials it reads, with the feature rows aligned."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from strata.probes.tasks import OUTSIDE, classification_data, restrict

MANIFEST = {
    "utt_id": ["a1", "a2", "a3", "b1", "b2", "b3"],
    "speaker": ["a", "a", "a", "b", "b", "b"],
    "kind": ["intent", "keyword", "intent", "intent", "intent", "keyword"],
    "split": ["train", "dev", "test", "train", "test", "dev"],
}
TRIALS = {
    "enrollment": ["a1", "a1", "a2", "b1"],
    "test": ["a3", "b2", "a3", "b3"],
    "target": [True, False, True, True],
    "split": ["test", "test", "test", "dev"],
}
TASK = {"kind": "classification", "label": "speaker", "where": {"kind": "intent"}}


def test_where_takes_the_other_utterances_out_of_the_splits_and_drops_their_trials():
    manifest, trials = restrict(MANIFEST, TRIALS, TASK)
    assert manifest["utt_id"] == MANIFEST["utt_id"]  # rows stay aligned with the features
    assert manifest["split"] == ["train", OUTSIDE, "test", "train", "test", OUTSIDE]
    assert trials == {k: v[:2] for k, v in TRIALS.items()}  # a2 and b3 are keyword clips
    assert MANIFEST["split"][1] == "dev"  # the input is not changed


def test_classification_reads_only_the_selected_rows():
    manifest, _ = restrict(MANIFEST, None, TASK)
    features = np.arange(6, dtype=float)[:, None]
    with pytest.raises(ValueError, match="no labelled utterances in split 'dev'"):
        classification_data(manifest, MANIFEST["utt_id"], features, TASK)  # dev: keywords only
    manifest["split"][2] = "dev"
    data = classification_data(manifest, MANIFEST["utt_id"], features, TASK)
    assert data.ids == {"train": ["a1", "b1"], "dev": ["a3"], "test": ["b2"]}
    assert data.x["test"][:, 0].tolist() == [4.0]


def test_a_dataframe_manifest_stays_a_dataframe_with_its_split_column_restricted():
    frame = pd.DataFrame(MANIFEST)
    task = {**TASK, "split": "split"}
    manifest, _ = restrict(frame, None, task)
    assert isinstance(manifest, pd.DataFrame)
    assert (manifest["split"] == OUTSIDE).sum() == 2


def test_without_where_nothing_changes_and_a_bad_where_names_its_column():
    assert restrict(MANIFEST, TRIALS, {"kind": "classification"}) == (MANIFEST, TRIALS)
    with pytest.raises(KeyError, match="'style'"):
        restrict(MANIFEST, TRIALS, {**TASK, "where": {"style": "fast"}})
    with pytest.raises(ValueError, match="selects no utterance"):
        restrict(MANIFEST, TRIALS, {**TASK, "where": {"kind": "story"}})
