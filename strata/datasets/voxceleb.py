"""VoxCeleb1, for speaker identification (SID) and verification (ASV).

Layout: ``{root}/wav/{speaker}/{youtube id}/{nnnnn}.wav``, the identification split file
``iden_split.txt`` (``1|2|3 id10001/1zcIwhmdeo4/00001.wav``: train, dev, test) and a
verification trial list such as ``veri_test2.txt`` (``1|0 enrolment.wav test.wav``), both at
the root by default. Utterance ids are the paths without ``.wav``. The manifest's ``split``
is the identification split (``verification`` for a trial utterance outside it).

``trials.parquet`` holds two trial sets with disjoint speakers, told apart by its ``split``
column. ``test``: the official list (VoxCeleb1-O), reported. ``dev``: drawn here to choose
layers and learning rates, so nothing is chosen on test. ``dev_trials.speakers`` (default 40)
speakers are drawn (``dev_trials.seed``) among the identification speakers absent from the
official list, after the caps; each gets ``dev_trials.per_speaker`` (default 20) trials over its
kept utterances, half target (two different utterances of it) and half non-target (one of its
utterances against one of another dev speaker). Dev speakers stay in the SID splits; the
verification probe's trained projection never sees a speaker of either trial set.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from strata.corpus.manifest import write_trials
from strata.datasets.common import capped, require_file, with_audio, write_manifest
from strata.io import TRIAL_COLUMNS
from strata.schema import check_schema

SPLIT_CODES = {"1": "train", "2": "dev", "3": "test"}


def _utt(path: str) -> str:
    return path.strip().removesuffix(".wav")


def read_iden_split(path: Path) -> dict[str, str]:
    splits = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            code, _, wav = line.partition(" ")
            if code not in SPLIT_CODES or not wav.endswith(".wav"):
                raise ValueError(f"{path}:{number}: expected '1|2|3 speaker/video/nnnnn.wav'")
            splits[_utt(wav)] = SPLIT_CODES[code]
    return splits


def read_trials(path: Path) -> pd.DataFrame:
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            parts = line.split()
            if len(parts) != 3 or parts[0] not in ("0", "1"):
                raise ValueError(f"{path}:{number}: expected '1|0 enrolment.wav test.wav'")
            rows.append((_utt(parts[1]), _utt(parts[2]), parts[0] == "1", "test"))
    return pd.DataFrame(rows, columns=list(TRIAL_COLUMNS))


def _speaker(utt: str) -> str:
    return utt.split("/")[0]


def _pairs(rng: np.random.Generator, rows: list[str], cols: list[str], k: int, distinct: bool):
    """``k`` (row, col) utterance pairs, never an utterance with itself (``distinct``); a pair
    repeats only when there are fewer than ``k`` (a capped speaker may keep few utterances)."""
    width = len(cols) - distinct
    flat = rng.choice(len(rows) * width, size=k, replace=len(rows) * width < k)
    pairs = [divmod(int(f), width) for f in flat]
    return [(rows[i], cols[j + int(distinct and j >= i)]) for i, j in pairs]


def dev_trials(manifest: pd.DataFrame, test: pd.DataFrame, cfg: Mapping[str, Any]) -> list:
    """Seeded dev trial rows (the module docstring) among the identification speakers of
    ``manifest`` that occur in no ``test`` trial."""
    n, per, seed = cfg.get("speakers", 40), cfg.get("per_speaker", 20), cfg.get("seed", 0)
    if n == 0:
        return []
    in_test = {_speaker(u) for u in pd.concat([test["enrollment"], test["test"]])}
    iden = manifest[manifest["split"] != "verification"]
    eligible = sorted(set(iden["speaker"]) - in_test)
    if n < 2 or n > len(eligible):
        raise ValueError(
            f"dev_trials.speakers: {n} wanted, needs >= 2 and at most the {len(eligible)} "
            "identification speakers outside the test trial list"
        )
    rng = np.random.default_rng(seed)
    chosen = sorted(str(s) for s in rng.choice(eligible, size=n, replace=False))
    utts = {s: sorted(iden.loc[iden["speaker"] == s, "utt_id"]) for s in chosen}
    rows = []
    for speaker, own in utts.items():
        if len(own) < 2:
            raise ValueError(
                f"dev_trials: speaker {speaker} keeps {len(own)} utterance after the caps; "
                "its target trials need 2"
            )
        others = [u for s in chosen if s != speaker for u in utts[s]]
        rows += [(a, b, True, "dev") for a, b in _pairs(rng, own, own, per // 2, True)]
        rows += [(a, b, False, "dev") for a, b in _pairs(rng, own, others, per // 2, False)]
    return rows


def prepare_voxceleb1(cfg: dict[str, Any], out_dir: Path, threads: int = 1) -> pd.DataFrame:
    check_schema(cfg, "voxceleb1_dataset")
    root = Path(cfg["root"]).expanduser()
    wav = require_file(root / "wav", "the wav/ folder")
    splits = read_iden_split(
        require_file(root / cfg.get("iden_split", "iden_split.txt"), "iden_split.txt")
    )
    test = read_trials(require_file(root / cfg.get("trials", "veri_test2.txt"), "the trial list"))
    utts = sorted(set(splits) | set(test["enrollment"]) | set(test["test"]))
    rows = [
        {
            "utt_id": u,
            "path": str(require_file(wav / f"{u}.wav", f"the audio of {u}").resolve()),
            "speaker": _speaker(u),
            "split": splits.get(u, "verification"),
        }
        for u in utts
    ]
    df = capped(pd.DataFrame(rows), cfg.get("caps"), cfg.get("seed", 0))
    kept = set(df["utt_id"])
    kept_test = test[test["enrollment"].isin(kept) & test["test"].isin(kept)]
    # The whole official list, not only what the caps keep, bars a speaker from dev trials.
    dev = dev_trials(df, test, cfg.get("dev_trials", {}))
    trials = pd.DataFrame(
        [*kept_test.itertuples(index=False, name=None), *dev], columns=list(TRIAL_COLUMNS)
    )
    df = with_audio(df, threads)
    write_manifest(df, out_dir, cfg)
    write_trials(trials, out_dir / "trials.parquet", {"config": dict(cfg)})
    return df
