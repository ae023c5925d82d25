"""The scale bench: the phoneme-recognition probe job (``train_probe``'s code,
:func:`strata.probes.run.run_probe`, in a fresh process per size) on synthetic frame shards in
the real schema, WavLM Base-shaped (768 dims, 50 frames/s, float16), at growing hours of audio.
It records peak RSS (flat once the frames outgrow the buffer) and wall time (linear), derives
the CPU cost per frame·dim·epoch the planner uses, and writes the paper grid's projection.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

DIM, RATE, UTTERANCE_SECONDS = 768, 50, 12.0
PHONES = [f"p{i}" for i in range(40)]

JOB = """
import json, resource, sys, time
from pathlib import Path
from strata.probes.run import read_task_inputs, run_probe
from strata.probes.tasks import restrict

work, buffer_mb = Path(sys.argv[1]), float(sys.argv[2])
task = {"kind": "phoneme_recognition", "dataset": "synthetic"}
probe = {"kind": "linear", "lrs": [0.01], "weight_decay": 0.0, "batch_size": 32,
         "max_epochs": 1, "patience": 1, "seed": 0, "bootstrap": 0, "confidence": 0.95,
         "projection_width": 128, "buffer_mb": buffer_mb}
start = time.perf_counter()
manifest, trials = restrict(*read_task_inputs(work / "data", True), task)
run_probe(features=work / "features", layer="layer_06", manifest=manifest, trials=trials,
          task_name="pr", task=task, probe=probe,
          outputs=tuple(work / "out" / name for name in
                        ("metrics.json", "probe.safetensors", "test_units.parquet")))
wall = time.perf_counter() - start
print(json.dumps({"wall_s": wall,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def synthetic_study(work: Path, hours: float, seed: int = 0) -> int:
    """A manifest (80/10/10 train/dev/test, phones) and one layer's frame shard; frames."""
    import pyarrow as pa

    from strata.features.shards import ShardWriter, shard_path
    from strata.io import write_parquet

    n = max(10, int(hours * 3600 / UTTERANCE_SECONDS))
    frames = int(UTTERANCE_SECONDS * RATE)
    rng = np.random.default_rng(seed)
    split = np.where(
        np.arange(n) % 10 < 8, "train", np.where(np.arange(n) % 10 == 8, "dev", "test")
    )
    ids = [f"u{i:07d}" for i in range(n)]
    phones = [list(rng.choice(PHONES, size=frames // 4)) for _ in range(n)]
    samples = int(UTTERANCE_SECONDS * 16000)
    manifest = pd.DataFrame(
        {
            "utt_id": ids,
            "path": [f"{u}.flac" for u in ids],
            "split": split,
            "phones": phones,
            "sample_rate": 16000,
            "num_samples": samples,
            "duration": UTTERANCE_SECONDS,
        }
    )
    (work / "data").mkdir(parents=True)
    table = pa.Table.from_pandas(manifest, preserve_index=False)
    write_parquet(table, work / "data" / "manifest.parquet", {"manifest_sha256": "-"})
    meta = {
        "model": "synthetic",
        "dataset": "synthetic",
        "layer": "layer_06",
        "layer_index": 6,
        "num_layers": 13,
        "frame_rate": RATE,
        "weights_sha256": "-",
        "manifest_sha256": "-",
    }
    writer = ShardWriter(
        shard_path(work / "features", "layer_06", "frame"), DIM, "frame", meta, "float16"
    )
    for start in range(0, n, 64):
        chunk = ids[start : start + 64]
        x = rng.standard_normal((len(chunk) * frames, DIM), dtype=np.float32)
        writer.write(
            [u for u in chunk for _ in range(frames)], x, np.tile(np.arange(frames), len(chunk))
        )
    writer.close()
    return n * frames


def measure(hours: float, buffer_mb: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="strata-scale-") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        frames = synthetic_study(work, hours)
        written = time.perf_counter() - start
        script = work / "job.py"
        script.write_text(JOB)
        out = subprocess.run(
            [sys.executable, str(script), str(work), str(buffer_mb)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
    result |= {"frames": frames, "write_s": written}
    result["s_per_value"] = result["wall_s"] / (frames * DIM)
    return result


def scale_section(stamp: str, hours: list[float], buffer_mb: float) -> list[str]:
    """Markdown: the measured table and the paper grid's projection."""
    from strata.plan import resources

    rows = {f"{h:g} h": measure(h, buffer_mb) for h in hours}
    table = pd.DataFrame(rows).T[["frames", "write_s", "wall_s", "peak_rss_mb", "s_per_value"]]
    cost = float(np.median(table["s_per_value"]))
    return [
        "## Scale: phoneme probes on growing frame shards",
        "",
        f"_{stamp}._ `train_probe`'s job code on one WavLM Base-shaped layer (768 dims, 50 "
        f"frames/s, float16 shard), {UTTERANCE_SECONDS:g} s utterances, one epoch, one learning "
        f"rate, `probe.buffer_mb` {buffer_mb:g}, a fresh process per size. Goals: peak RSS flat "
        "in hours; wall time linear (seconds per frame·dim steady).",
        "",
        table.to_markdown(floatfmt=".3g"),
        "",
        f"Median {cost:.3g} CPU-s per frame·dim·epoch (train pass, dev decode and the final "
        f"decodes of every split included); the planner uses "
        f"`CTC_SECONDS_PER_VALUE` = {resources.CTC_SECONDS_PER_VALUE:.3g} "
        f"(ratio {cost / resources.CTC_SECONDS_PER_VALUE:.2f}).",
        "",
    ]


def projection_section(stamp: str, root: Path) -> list[str]:
    """The paper grid's plan, as `python -m strata.plan --configfile configs/paper.yaml`
    prints it with nothing fetched."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "strata.plan",
            "--configfile",
            str(root / "configs/paper.yaml"),
            "--directory",
            tempfile.mkdtemp(prefix="strata-plan-"),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={
            **__import__("os").environ,
            "HF_HUB_OFFLINE": "1",
            "HF_HUB_CACHE": tempfile.mkdtemp(prefix="strata-empty-hub-"),
        },
    )
    return [
        "## Scale: the paper grid's projection",
        "",
        f"_{stamp}._ `python -m strata.plan --configfile configs/paper.yaml`, run with an empty "
        "Hugging Face cache and no corpus (widths from the table of known checkpoints, sizes "
        "from the table of standard corpora); see docs/scale.md for the assumptions.",
        "",
        "```text",
        out.stdout.rstrip(),
        "```",
        "",
    ]
