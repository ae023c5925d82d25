"""Offline, deterministic multi-speaker speech corpus synthesised with TTS voices ("embedded").

A stand-in for the six SUPERB tasks in one corpus: every voice (espeak-ng accent × variant,
flite, festival) is a speaker (SID); held-out speakers give balanced verification trials
(ASV), dev and test trials on disjoint speakers; every utterance has cmudict phones (PR);
single keywords (KS) and intent commands from a fixed inventory of wordings that recur across
speakers (IC, split by speaker as FSC); every text is said in every speaking style (ER-like
rate/pitch classes). Planning is pure (:mod:`strata.corpus.plan`); :func:`build_corpus`
synthesises the plan.
"""

from strata._lazy import lazy_exports

_EXPORTS = {
    "MANIFEST_COLUMNS": "strata.corpus.manifest",
    "CorpusConfig": "strata.corpus.config",
    "MissingVoiceError": "strata.corpus.engines",
    "build_corpus": "strata.corpus.build",
    "check_voices": "strata.corpus.engines",
    "parse_config": "strata.corpus.config",
    "read_trials": "strata.corpus.manifest",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
