"""What to synthesise: per-speaker texts and styles, speaker-aware splits and trials.

Planning is cheap and pure (numpy, no audio, no pandas), so the Snakefile plans every embedded
corpus at parse time: a config the planner cannot honour fails there, naming its key.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from strata.corpus.config import CorpusConfig, Voice, parse_config, rng_for
from strata.corpus.engines import check_styles
from strata.corpus.grammar import phrasings, sample_intents, sample_keywords, vocabulary
from strata.corpus.lexicon import check_words
from strata.schema import ConfigError

TextSpec = tuple[str, str | None, str | None]  # text, keyword, intent label


@dataclass(frozen=True)
class Utterance:
    utt_id: str
    speaker: str
    voice: Voice
    text: str
    words: tuple[str, ...]
    kind: str
    keyword: str | None
    intent: str | None
    style: str
    group: int  # one text spoken in every style; splits keep a group together
    accent: str | None = None  # a generated speaker's espeak-ng language for this text

    @property
    def synth_voice(self) -> str:
        """The engine's voice argument: a generated timbre is a variant of the text's accent."""
        if self.voice.timbre is None:
            return self.voice.voice
        return f"{self.accent}+{self.voice.voice}"

    def labels(self) -> dict[str, str | None]:
        """The manifest's label columns for this utterance (what a task may predict)."""
        return {
            "speaker": self.speaker,
            "engine": self.voice.engine,
            "voice": self.synth_voice,
            "text": self.text,
            "kind": self.kind,
            "keyword": self.keyword,
            "intent": self.intent,
            "style": self.style,
        }


def speaker_id(voice: Voice) -> str:
    """``espeak`` + ``en-us+m1`` -> ``espeak_en_us_m1``."""
    return re.sub(r"[^a-z0-9]+", "_", f"{voice.engine}_{voice.voice}".lower()).strip("_")


def _texts(cfg: CorpusConfig, roles: Mapping[str, str]) -> list[list[TextSpec]]:
    """Per speaker, (text, keyword, intent label) per group: keyword groups, then intent groups.

    Keywords are drawn balanced over the whole corpus; intents cycle over the fixed inventory
    of wordings (:func:`grammar.phrasings`), IC-train speakers first, so every wording a dev or
    test speaker says is said in train too whenever train has that many intent texts (FSC).
    """
    groups = cfg.utterances_per_speaker // len(cfg.styles)
    n_keyword = round(groups * cfg.keyword_fraction)
    n_intent, n_voices = groups - n_keyword, len(cfg.voices)
    keywords = sample_keywords(rng_for(cfg.seed, "keywords"), cfg.keywords, n_keyword * n_voices)
    inventory = phrasings(rng_for(cfg.seed, "phrasings"), cfg.intent_phrasings)
    intents = sample_intents(rng_for(cfg.seed, "intents"), inventory, n_intent * n_voices)
    rank = {role: i for i, role in enumerate(ROLES)}
    by_role = sorted(range(n_voices), key=lambda v: rank[roles[speaker_id(cfg.voices[v])]])
    per_speaker: list[list[TextSpec]] = [[] for _ in range(n_voices)]
    for turn, v in enumerate(by_role):
        own_intents = intents[turn * n_intent : (turn + 1) * n_intent]
        per_speaker[v] = [(k, k, None) for k in keywords[v * n_keyword : (v + 1) * n_keyword]]
        per_speaker[v] += [(t, None, i.label) for t, i in own_intents]
    return per_speaker


def plan_speaker(cfg: CorpusConfig, voice: Voice, texts: list[TextSpec]) -> list[Utterance]:
    """Every text of one speaker, each spoken once in every style (balanced, text-matched);
    a generated speaker says each text in an accent of its own draw."""
    speaker = speaker_id(voice)
    groups = len(texts)
    order = rng_for(cfg.seed, "order", speaker).permutation(groups)
    accents = [None] * groups
    if voice.timbre is not None:
        draws = rng_for(cfg.seed, "accent", speaker).integers(len(cfg.accents), size=groups)
        accents = [cfg.accents[i] for i in draws]
    utts = []
    for group, (text, keyword, intent) in enumerate(texts[i] for i in order):
        words = tuple(text.split())
        for style in cfg.styles:
            utts.append(
                Utterance(
                    utt_id=f"{speaker}_{len(utts):04d}",
                    speaker=speaker,
                    voice=voice,
                    text=text,
                    words=words,
                    kind="keyword" if keyword else "intent",
                    keyword=keyword,
                    intent=intent,
                    style=style.name,
                    group=group,
                    accent=accents[group],
                )
            )
    return utts


def plan_corpus(cfg: CorpusConfig, roles: Mapping[str, str]) -> list[Utterance]:
    texts = _texts(cfg, roles)
    utts = [
        u
        for voice, own in zip(cfg.voices, texts, strict=True)
        for u in plan_speaker(cfg, voice, own)
    ]
    return utts


def _spread(rng: np.random.Generator, voices: Sequence[Voice], k: int) -> list[str]:
    """``k`` speakers of ``voices``, taken round-robin over engines so several are represented."""
    by_engine: dict[str, list[str]] = {}
    for voice in voices:
        by_engine.setdefault(voice.engine, []).append(speaker_id(voice))
    queues = [list(rng.permutation(sorted(by_engine[e]))) for e in sorted(by_engine)]
    queues = [queues[i] for i in rng.permutation(len(queues))]
    chosen: list[str] = []
    while len(chosen) < k:
        for queue in queues:
            if queue and len(chosen) < k:
                chosen.append(str(queue.pop(0)))
    return sorted(chosen)


def choose_verification(cfg: CorpusConfig) -> list[str]:
    """Held-out speakers, spread over engines so several engines are represented."""
    return _spread(rng_for(cfg.seed, "verification"), cfg.voices, cfg.verification_speakers)


def trial_splits(cfg: CorpusConfig, verification: Sequence[str]) -> dict[str, str]:
    """Verification speaker -> the split of its trials: ``dev`` (layer and learning-rate
    choice) or ``test`` (reported); dev speakers spread over engines as the held-out ones."""
    held = [v for v in cfg.voices if speaker_id(v) in verification]
    dev = _spread(rng_for(cfg.seed, "trial_splits"), held, cfg.verification_dev_speakers)
    return {s: "dev" if s in dev else "test" for s in verification}


ROLES = ("train", "dev", "test", "verification")  # a speaker's role; the first three: IC split


def _split_sizes(cfg: CorpusConfig, n: int, key: str, units: str) -> tuple[int, int]:
    """Dev and test sizes of ``n`` units at the configured fractions, at least one each."""

    def size(fraction: float) -> int:
        return max(1, round(n * fraction)) if fraction > 0 else 0

    dev, test = size(cfg.dev_fraction), size(cfg.test_fraction)
    if n - dev - test < 1:
        raise ConfigError(key, f"too small: {n} {units} cannot fill train, dev and test")
    return dev, test


def speaker_roles(cfg: CorpusConfig) -> dict[str, str]:
    """Speaker -> role: a held-out verification speaker, or a closed-set speaker's split in the
    manifest's ``speaker_split`` (speaker-disjoint train/dev/test, as FSC splits IC). Too few
    closed-set speakers to split: all train (a task on speaker_split then fails its check)."""
    verification = choose_verification(cfg)
    closed = sorted(speaker_id(v) for v in cfg.voices if speaker_id(v) not in verification)
    order = [str(s) for s in rng_for(cfg.seed, "speaker_roles").permutation(closed)]
    try:
        dev, test = _split_sizes(cfg, len(order), "voices", "closed-set speakers")
    except ConfigError:
        dev = test = 0
    roles = dict.fromkeys(verification, "verification")
    roles |= dict.fromkeys(order[:dev], "dev") | dict.fromkeys(order[dev : dev + test], "test")
    return roles | {s: "train" for s in order[dev + test :]}


def _interleave_by_kind(utts: Sequence[Utterance], rng: np.random.Generator) -> list[int]:
    """Shuffled group ids with kinds spread evenly, so every split gets both kinds; which kind
    leads is drawn per speaker (with one dev and one test text, dev would always get the same
    kind)."""
    kinds: dict[str, list[int]] = {}
    for u in utts:
        if u.group not in kinds.setdefault(u.kind, []):
            kinds[u.kind].append(u.group)
    lead = dict(zip(sorted(kinds), rng.permutation(len(kinds)).tolist(), strict=True))
    keyed = [
        ((i + 0.5) / len(groups), lead[kind], g)
        for kind, groups in sorted(kinds.items())
        for i, g in enumerate(rng.permutation(groups))
    ]
    return [int(g) for _, _, g in sorted(keyed)]


def _class_of(u: Utterance) -> tuple[str, str] | None:
    label = u.keyword if u.kind == "keyword" else u.intent
    return None if label is None else (u.kind, label)


def _held_out_groups(order: list[int], classes: dict[int, tuple | None], left: Counter, k: int):
    """The first ``k`` groups of ``order`` for dev/test, skipping a group whose keyword/intent
    class would then have no group left for train; if too few qualify, the rest follow order."""
    chosen = []
    for g in order:
        key = classes[g]
        if len(chosen) < k and (key is None or left[key] >= 2):
            chosen.append(g)
            if key is not None:
                left[key] -= 1
    return chosen + [g for g in order if g not in chosen][: k - len(chosen)]


def assign_splits(
    cfg: CorpusConfig, utts: Sequence[Utterance], roles: Mapping[str, str]
) -> dict[str, str]:
    """utt_id -> split (the manifest's ``split``): texts split within each closed-set speaker;
    a text's style renditions share a split so styles cannot leak text.

    Every closed-set speaker is in every split (closed-set speaker ID), and whenever the corpus
    has enough texts, every keyword/intent class keeps at least one text in train: a probe
    cannot be scored on a class it never saw.
    """
    by_speaker: dict[str, list[Utterance]] = {}
    for u in utts:
        by_speaker.setdefault(u.speaker, []).append(u)
    closed = {
        (u.speaker, u.group): _class_of(u) for u in utts if roles[u.speaker] != "verification"
    }
    left = Counter(key for key in closed.values() if key is not None)
    splits: dict[str, str] = {}
    for speaker, own in by_speaker.items():
        if roles[speaker] == "verification":
            splits.update((u.utt_id, "verification") for u in own)
            continue
        order = _interleave_by_kind(own, rng_for(cfg.seed, "splits", speaker))
        dev, test = _split_sizes(cfg, len(order), "utterances_per_speaker", "texts per speaker")
        classes = {g: closed[(speaker, g)] for g in order}
        held = _held_out_groups(order, classes, left, dev + test)
        split_of = {g: "dev" for g in held[:dev]} | {g: "test" for g in held[dev:]}
        splits.update((u.utt_id, split_of.get(u.group, "train")) for u in own)
    return splits


def _pairs(rng: np.random.Generator, n_rows: int, n_cols: int, k: int, distinct: bool) -> list:
    """``k`` distinct (row, col) index pairs; with ``distinct`` the pair never has row == col."""
    width = n_cols - 1 if distinct else n_cols
    if n_rows * width < k:
        raise ConfigError("trials_per_speaker", f"too large: only {n_rows * width} pairs")
    pairs = []
    for flat in rng.choice(n_rows * width, size=k, replace=False):
        row, col = divmod(int(flat), width)
        pairs.append((row, col + int(distinct and col >= row)))
    return pairs


Trial = tuple[str, str, bool, str]  # enrollment utt_id, test utt_id, same speaker, split


def make_trials(
    cfg: CorpusConfig,
    utts: Sequence[Utterance],
    splits: Mapping[str, str],
    sides: Mapping[str, str],
) -> list[Trial]:
    """Balanced target/non-target trials per verification speaker, each in its speaker's trial
    split (``sides``); a non-target partner is another speaker of the same split, so dev and
    test trials share no speaker."""
    ids: dict[str, list[str]] = {}
    for u in sorted(utts, key=lambda u: u.utt_id):
        if splits[u.utt_id] == "verification":
            ids.setdefault(u.speaker, []).append(u.utt_id)
    half = cfg.trials_per_speaker // 2
    rows: list[Trial] = []
    for speaker, own in sorted(ids.items()):
        side, rng = sides[speaker], rng_for(cfg.seed, "trials", speaker)
        others = sorted(u for s, us in ids.items() if s != speaker and sides[s] == side for u in us)
        same = _pairs(rng, len(own), len(own), half, True)
        rows += [(own[i], own[j], True, side) for i, j in same]
        other = _pairs(rng, len(own), len(others), half, False)
        rows += [(own[i], others[j], False, side) for i, j in other]
    return rows


@dataclass(frozen=True)
class CorpusPlan:
    """Everything about the corpus except its audio: utterances, their splits and the trials."""

    config: CorpusConfig
    utterances: list[Utterance]
    splits: dict[str, str]  # utt_id -> split: texts split within each closed-set speaker
    roles: dict[str, str]  # speaker -> speaker_split: speaker-disjoint train/dev/test
    trials: list[Trial]
    trial_splits: dict[str, str]  # verification speaker -> its trials' split: dev or test

    def split_columns(self) -> dict[str, dict[str, str]]:
        """The manifest's split columns: utt_id -> split in each."""
        by_speaker = {u.utt_id: self.roles[u.speaker] for u in self.utterances}
        return {"split": self.splits, "speaker_split": by_speaker}

    def labels(
        self, split: str = "split", where: Mapping[str, Any] | None = None
    ) -> dict[str, list[tuple[str, Any]]]:
        """Per label column, (split, value) of every utterance (those ``where`` selects), as the
        manifest will hold them, split by the ``split`` column. ``phones`` stands in as the
        words (pronounced at build time; every word is in cmudict)."""
        splits = self.split_columns()[split]
        columns: dict[str, list[tuple[str, Any]]] = {}
        for u in self._selected(where):
            for column, value in {**u.labels(), "phones": u.words}.items():
                columns.setdefault(column, []).append((splits[u.utt_id], value))
        return columns

    def _selected(self, where: Mapping[str, Any] | None) -> list[Utterance]:
        where = where or {}
        known = self.utterances[0].labels() if self.utterances else {}
        for column in where:
            if column not in known:
                raise ConfigError("where", f"{column!r} not a column: {sorted(known)}")
        return [u for u in self.utterances if all(u.labels()[c] == v for c, v in where.items())]

    def trial_count(self, where: Mapping[str, Any] | None = None) -> int:
        """Trials whose two utterances ``where`` both selects."""
        chosen = {u.utt_id for u in self._selected(where)}
        return sum(e in chosen and t in chosen for e, t, _, _ in self.trials)


def plan(config: CorpusConfig) -> CorpusPlan:
    """Plan the corpus, or raise ConfigError naming what the config cannot give."""
    try:
        check_words(vocabulary(config.keywords))
    except ValueError as err:
        raise ConfigError("keywords", str(err)) from None
    check_styles(config)
    speakers = [speaker_id(v) for v in config.voices]
    if len(set(speakers)) != len(speakers):
        raise ConfigError("voices", "two voices have the same sanitised speaker id")
    roles = speaker_roles(config)
    utts = plan_corpus(config, roles)
    splits = assign_splits(config, utts, roles)
    sides = trial_splits(config, [s for s, role in roles.items() if role == "verification"])
    trials = make_trials(config, utts, splits, sides)
    return CorpusPlan(config, utts, splits, roles, trials, sides)


def plan_from_config(cfg: Mapping[str, Any]) -> CorpusPlan:
    """:func:`plan` of a config slice; cached, as parse time asks once per rule that needs it.
    The key keeps the slice's order: the order of styles and voices shapes the plan."""
    return _plan_cached(json.dumps(cfg))


@cache
def _plan_cached(cfg_json: str) -> CorpusPlan:
    return plan(parse_config(json.loads(cfg_json)))
