"""Feature extraction: one forward pass per batch, one Parquet shard per layer."""

from strata.features.shards import (
    ShardWriter,
    read_shard,
    read_shard_metadata,
    read_utterance_vectors,
)

__all__ = ["ShardWriter", "read_shard", "read_shard_metadata", "read_utterance_vectors"]
