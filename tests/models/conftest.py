"""Fixtures for model-family adapter tests."""

from __future__ import annotations

import pytest
import torch
from model_checks import make_waves


@pytest.fixture(scope="session")
def waves() -> tuple[torch.Tensor, torch.Tensor]:
    return make_waves()
