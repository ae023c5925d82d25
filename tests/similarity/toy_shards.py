"""Feature shards of toy models, written through the extractor's own ShardWriter."""

import numpy as np

from strata.features.shards import ShardWriter


def write_model(root, model, layers, ids, rate=None):
    """``layers``: name -> (n, dim) utterance vectors; or, with a frame ``rate``, name -> list
    of per-utterance (frames, dim) arrays, written as frame shards plus their pooled rows."""
    for index, (name, x) in enumerate(layers.items()):
        meta = {
            "model": model,
            "dataset": "toy",
            "layer": name,
            "layer_index": index,
            "frame_rate": rate,
            "weights_sha256": model * 4,
            "manifest_sha256": "m",
        }
        per_utt = [row[None] for row in x] if rate is None else x
        dim = per_utt[0].shape[1]
        pooled = ShardWriter(root / model / f"{name}.parquet", dim, "utterance", meta)
        pooled.write(ids, np.stack([u.mean(0) for u in per_utt]))
        pooled.close()
        if rate is not None:
            frames = ShardWriter(root / model / f"{name}.frames.parquet", dim, "frame", meta)
            for utt, u in zip(ids, per_utt, strict=True):
                frames.write([utt] * len(u), u, np.arange(len(u)))
            frames.close()
    return root / model
