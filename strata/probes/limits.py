"""The sizes that bound a CTC probe's memory, in a module of their own so the planner
(``strata.plan.resources``, read while Snakemake builds the DAG) need not import torch."""

DEFAULT_BUFFER_MB = 2048  # probe.buffer_mb: float32 frames of every probed layer held at once
DECODE_FRAMES = 32768  # padded frames per decoding batch (what memory holds, not a count)
MOMENT_ROWS = 8192  # rows per float64 chunk of the streamed statistics pass
