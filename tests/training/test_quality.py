"""Each trained family learned what its objective teaches, read through the DAG's own adapters
and judged by independent scorers (SpeechBrain's EER, scikit-learn's logistic regression):
the supervised model identifies speakers far above chance, the DINO model verifies unseen
speakers better than the random init it started from, and the masked-prediction model's middle
layer recognises keywords better than its random init."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from speechbrain.utils.metric_stats import EER

from strata.features.extract import load_audio
from strata.models.card import load_model, read_card


def pooled(model_dir: Path, cfg: dict, corpus: Path, rows: pd.DataFrame, layer: str):
    """utt_id -> the layer's mean over valid frames, through the model's card and adapter."""
    encoder, _ = load_model(model_dir, cfg)
    out = {}
    for row in rows.itertuples():
        wave = load_audio(corpus / row.path, 16_000)
        layer_out = encoder(wave[None], torch.tensor([len(wave)]))[layer]
        out[row.utt_id] = layer_out.hidden[0, : int(layer_out.lengths[0])].mean(0)
    return out


def card_config(model_dir: Path) -> dict:
    return read_card(model_dir)["provenance"]["config"]


def manifest(corpus: Path) -> pd.DataFrame:
    return pd.read_parquet(corpus / "manifest.parquet")


def eer(model_dir: Path, corpus: Path) -> float:
    trials = pd.read_parquet(corpus / "trials.parquet")
    emb = pooled(model_dir, card_config(model_dir), corpus, manifest(corpus), "embedding")
    unit = {k: torch.nn.functional.normalize(v, dim=0) for k, v in emb.items()}
    scores = torch.stack([unit[a] @ unit[b] for a, b in zip(trials.enrollment, trials.test)])
    target = torch.tensor(trials.target.to_numpy(bool))
    return EER(scores[target], scores[~target])[0]


def speaker_id_accuracy(model_dir: Path, corpus: Path) -> tuple[float, float]:
    """Nearest speaker centroid (train split) for each test-split utterance; and chance."""
    rows = manifest(corpus)
    rows = rows[rows["split"].isin(["train", "test"])]
    emb = pooled(model_dir, card_config(model_dir), corpus, rows, "embedding")
    unit = {k: torch.nn.functional.normalize(v, dim=0) for k, v in emb.items()}
    train, test = rows[rows["split"] == "train"], rows[rows["split"] == "test"]
    speakers = sorted(train["speaker"].unique())
    centroids = torch.stack(
        [torch.stack([unit[u] for u in train.utt_id[train.speaker == s]]).mean(0) for s in speakers]
    )
    guesses = [speakers[int((centroids @ unit[u]).argmax())] for u in test.utt_id]
    return float(np.mean(np.array(guesses) == test["speaker"].to_numpy())), 1 / len(speakers)


def keyword_accuracy(model_dir: Path, corpus: Path, layer: str) -> float:
    """A logistic-regression probe on pooled frames: fit on train+dev, scored on the rest."""
    rows = manifest(corpus)
    emb = pooled(model_dir, card_config(model_dir), corpus, rows, layer)
    fit = rows["split"].isin(["train", "dev"])

    def features(part: pd.DataFrame) -> np.ndarray:
        return torch.stack([emb[u] for u in part.utt_id]).numpy()

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probe.fit(features(rows[fit]), rows[fit]["keyword"])
    return probe.score(features(rows[~fit]), rows[~fit]["keyword"])


def test_trained_family_beats_its_random_init(trained_run, corpus):
    objective, _, _, model_dir, init_dir = trained_run
    torch.set_num_threads(1)
    if objective == "aam_softmax":
        accuracy, chance = speaker_id_accuracy(model_dir, corpus)
        assert accuracy > 4 * chance, accuracy
        assert accuracy > speaker_id_accuracy(init_dir, corpus)[0] + 0.1
    elif objective == "dino":
        trained, untrained = eer(model_dir, corpus), eer(init_dir, corpus)
        assert trained < untrained - 0.05, (trained, untrained)
    elif objective == "masked_prediction":
        middle = "layer_02"  # of layer_00 (the CNN) .. layer_04
        trained = keyword_accuracy(model_dir, corpus, middle)
        untrained = keyword_accuracy(init_dir, corpus, middle)
        assert trained > untrained + 0.05, (trained, untrained)
    else:
        pytest.fail(f"no quality check for {objective}")
