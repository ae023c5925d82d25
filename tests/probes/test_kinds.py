"""Task kinds: the label check the probe and the parse-time rule share."""

import pytest

from strata.probes.kinds import TASK_KINDS

CLASSIFY = TASK_KINDS["classification"]
TASK = {"kind": "classification", "label": "emotion"}


def rows(**splits):
    return [(split, value) for split, values in splits.items() for value in values]


def test_a_learnable_task_passes_and_unlabelled_or_other_splits_are_ignored():
    CLASSIFY.check_labels(
        rows(train=["a", "b", None], dev=["a"], test=["b"], verification=["z"]), TASK
    )


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (rows(train=["a", "b"], dev=["a"], test=[None]), "no labelled utterances in split 'test'"),
        (rows(train=["a", "b"], dev=["c"], test=["a"]), r"dev classes absent from train: \['c'\]"),
        (rows(train=["a"], dev=["a"], test=["a"]), "1 class in train"),
    ],
)
def test_an_unlearnable_task_names_label_split_and_classes(labels, message):
    with pytest.raises(ValueError, match=f"label 'emotion': .*{message}"):
        CLASSIFY.check_labels(labels, TASK)
