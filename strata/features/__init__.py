"""Feature extraction: one forward pass per batch, one Parquet shard per layer."""

from strata._lazy import lazy_exports

_SHARDS = "strata.features.shards"
__all__ = ["ShardWriter", "read_shard", "read_shard_metadata", "read_utterance_vectors"]
# Lazy: the planner imports strata.features.selection at Snakefile parse time (no pyarrow).
__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, _SHARDS))
