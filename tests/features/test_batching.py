import numpy as np
import pytest
import torch

from strata.features.batching import plan_batches
from strata.features.pooling import mean_pool


@pytest.mark.parametrize("budget", [1000, 3000, 10**6])
def test_batches_cover_every_utterance_once_within_budget(budget):
    lengths = np.random.default_rng(0).integers(100, 1000, size=53)
    batches = plan_batches(lengths, budget)
    assert sorted(np.concatenate(batches).tolist()) == list(range(53))
    for batch in batches:
        assert len(batch) == 1 or len(batch) * lengths[batch].max() <= budget
    # Length buckets: a batch's utterances are all no longer than the next batch's.
    longest = [lengths[b].max() for b in batches]
    shortest = [lengths[b].min() for b in batches]
    assert all(a <= b for a, b in zip(longest[:-1], shortest[1:], strict=True))


def test_oversized_utterance_gets_its_own_batch():
    batches = plan_batches(np.array([10, 5000, 20]), 100)
    assert [b.tolist() for b in batches] == [[0, 2], [1]]


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0], [3.0], [100.0]], [[2.0], [4.0], [6.0]]])
    pooled = mean_pool(hidden, torch.tensor([2, 3]))
    torch.testing.assert_close(pooled, torch.tensor([[2.0], [4.0]]))
