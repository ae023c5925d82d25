"""The default config as the config tests mutate it."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def single_seed(config: dict) -> dict:
    """``config`` with one seed per model (``seed: <first>`` where ``seeds`` is) and its
    similarity pairs naming those models, not their members (``<name>_s<first>``)."""
    first = {}
    for name, model in config["models"].items():
        if "seeds" in model:
            first[f"{name}_s{model['seeds'][0]}"] = name
            config["models"][name] = {
                ("seed" if k == "seeds" else k): (v[0] if k == "seeds" else v)
                for k, v in model.items()
            }
    pairs = config["similarity"]["pairs"]
    if isinstance(pairs, list):
        config["similarity"]["pairs"] = [[first.get(m, m) for m in pair] for pair in pairs]
    return config


def default_config(seeds: bool = True) -> dict:
    """config.yaml through JSON (its anchors would share one architecture dict between
    models); ``seeds=False``: :func:`single_seed` of it."""
    config = json.loads(json.dumps(yaml.safe_load((ROOT / "config.yaml").read_text())))
    return config if seeds else single_seed(config)
