"""A small embedded corpus (12 voices, 4 held out for verification trials; every utterance a
keyword) and a member of each family trained on it, shared by the training tests."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import torch
from training_setup import CORPUS, EPOCHS, SNAPSHOTS, trained_config

from strata.datasets.registry import prepare_dataset
from strata.models.card import prepare_model
from strata.training import OBJECTIVES
from strata.training.run import train_model


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built with the TTS voices; or, where they are missing (a GPU machine), the same corpus
    built elsewhere and named by STRATA_TRAINING_CORPUS."""
    if os.environ.get("STRATA_TRAINING_CORPUS"):
        return Path(os.environ["STRATA_TRAINING_CORPUS"])
    out = tmp_path_factory.mktemp("training") / "small"
    prepare_dataset(copy.deepcopy(CORPUS), out, threads=2)
    return out


@pytest.fixture(scope="session", params=sorted(OBJECTIVES))
def trained_run(request, corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    """(objective, config, training output, model dir of the trained model, model dir of its
    random init), made by the DAG's own functions."""
    torch.set_num_threads(1)
    objective = request.param
    cfg = trained_config(objective, EPOCHS[objective], snapshots=SNAPSHOTS[objective])
    root = tmp_path_factory.mktemp(objective)
    train_model("m", cfg, corpus, root / "trained", progress=False)
    prepare_model("m", cfg, root / "model", trained=root / "trained")
    init = {k: v for k, v in cfg.items() if k != "train"} | {"init": "random"}
    prepare_model("m_init", init, root / "init")
    return objective, cfg, root / "trained", root / "model", root / "init"
