import numpy as np
import pytest
import torch

from strata.features.batching import plan_batches
from strata.features.pooling import mean_pool


@pytest.mark.parametrize("chunk_size", [1, 7, 100])
def test_batches_cover_each_chunk_once_within_budget(chunk_size):
    rng = np.random.default_rng(0)
    lengths = rng.integers(100, 1000, size=53)
    budget = 3000
    seen = []
    for chunk, batches in plan_batches(lengths, budget, chunk_size):
        flat = np.concatenate(batches)
        assert sorted(flat) == list(chunk)
        for batch in batches:
            assert len(batch) == 1 or len(batch) * lengths[batch].max() <= budget
        seen.extend(chunk)
    assert seen == list(range(53))  # chunks arrive in manifest order


def test_oversized_utterance_gets_its_own_batch():
    chunks = list(plan_batches(np.array([10, 5000, 20]), 100, 10))
    assert [b.tolist() for b in chunks[0][1]] == [[0, 2], [1]]


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0], [3.0], [100.0]], [[2.0], [4.0], [6.0]]])
    pooled = mean_pool(hidden, torch.tensor([2, 3]))
    torch.testing.assert_close(pooled, torch.tensor([[2.0], [4.0]]))
