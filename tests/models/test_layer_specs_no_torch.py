"""layer_specs runs at Snakefile parse time, so it must not import torch or model libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CONFIGS = [
    {"family": "hf_transformers", "init": "random", "seed": 0, "arch": "wavlm", "config": {}},
    {"family": "speechbrain_ecapa", "init": "random", "seed": 0, "config": {"n_mels": 80}},
    {"family": "resemblyzer", "init": "pretrained"},
]

SCRIPT = """
import json, sys
from strata.models import registry
names = [[s.name for s in registry.layer_specs(cfg)] for cfg in json.loads(sys.argv[1])]
heavy = sorted({"torch", "transformers", "speechbrain", "resemblyzer"} & set(sys.modules))
assert not heavy, f"layer_specs imported {heavy}"
print(json.dumps(names))
"""


def test_layer_specs_does_not_import_torch(tmp_path: Path) -> None:
    # A pretrained HF dir is read from config.json alone.
    (tmp_path / "config.json").write_text(json.dumps({"num_hidden_layers": 3}))
    configs = [*CONFIGS, {"family": "hf_transformers", "init": "pretrained", "path": str(tmp_path)}]
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(configs)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    names = json.loads(result.stdout)
    assert [len(n) for n in names] == [13, 7, 5, 4]
