import signal
import subprocess
import sys

import pytest
from defaults import ROOT

from strata.io import DamagedFileError, atomic_dir, atomic_path, read_json, write_json


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_path(target) as tmp:
        tmp.write_text("new")
        assert target.read_text() == "old"
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_dir_swaps_whole_directory(tmp_path):
    target = tmp_path / "d"
    target.mkdir()
    (target / "stale").write_text("x")
    with atomic_dir(target) as tmp:
        (tmp / "fresh").write_text("y")
    assert [p.name for p in target.iterdir()] == ["fresh"]
    with pytest.raises(ValueError), atomic_dir(target) as tmp:
        (tmp / "half").write_text("z")
        raise ValueError
    assert [p.name for p in target.iterdir()] == ["fresh"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_json_round_trip(tmp_path):
    write_json(tmp_path / "a" / "m.json", {"b": 1, "a": [1.5, "x"]})
    assert read_json(tmp_path / "a" / "m.json") == {"a": [1.5, "x"], "b": 1}


def test_a_rewrite_removes_what_a_killed_writer_left(tmp_path):
    """A writer SIGKILLed mid-write leaves its temp folder; the next write of that output
    removes it, and leaves other outputs' temp files (a longer name with the same start) alone."""
    script = (
        "import os, signal, sys\n"
        "from strata.io import atomic_dir\n"
        "with atomic_dir(sys.argv[1]) as tmp:\n"
        "    (tmp / 'half.parquet').write_bytes(b'x' * 1000)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    killed = subprocess.run([sys.executable, "-c", script, str(tmp_path / "feat")])
    assert killed.returncode == -signal.SIGKILL
    (left,) = tmp_path.glob(".feat.*.tmp")
    assert (left / "half.parquet").stat().st_size == 1000
    other = tmp_path / ".feat.json.abcd1234.tmp"  # a temp of another output, feat.json
    other.write_text("in use")
    with atomic_dir(tmp_path / "feat") as tmp:
        (tmp / "whole.parquet").write_text("done")
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "feat"]
    assert [p.name for p in (tmp_path / "feat").iterdir()] == ["whole.parquet"]


# --- a damaged cache: each unreadable file named, with the command that rebuilds it ---


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_truncated_shard_names_the_file_and_the_output_to_rebuild(tmp_path):
    import numpy as np

    from strata.features.shards import ShardWriter, read_layers, shard_path
    from strata.features.stream import index_frames

    features = tmp_path / "results" / "features" / "wavlm" / "embedded"
    writer = ShardWriter(shard_path(features, "layer_01"), 8, "utterance", {"layer": "layer_01"})
    writer.write(["u0", "u1"], np.ones((2, 8), np.float32))
    writer.close()
    truncate(shard_path(features, "layer_01"))
    with pytest.raises(DamagedFileError) as caught:
        read_layers(features, ["layer_01"])
    assert str(caught.value).startswith(f"{features}/layer_01.parquet: damaged (ArrowInvalid: ")
    assert f"remove {features} and run snakemake again" in str(caught.value)
    frames = tmp_path / "results" / "frames" / "wavlm" / "embedded"
    writer = ShardWriter(shard_path(frames, "layer_01", "frame"), 8, "frame", {"layer": "l"})
    writer.write(["u0"] * 3, np.ones((3, 8), np.float32), np.arange(3))
    writer.close()
    truncate(shard_path(frames, "layer_01", "frame"))
    with pytest.raises(DamagedFileError, match=f"remove {frames} and run snakemake again"):
        index_frames(shard_path(frames, "layer_01", "frame"))


def test_a_truncated_metrics_file_names_the_probe_task_folder(tmp_path):
    task = tmp_path / "results" / "probes" / "wavlm" / "embedded" / "phones"
    write_json(task / "layer_03" / "metrics.json", {"test": {"per": 0.5}})
    truncate(task / "layer_03" / "metrics.json")
    with pytest.raises(DamagedFileError) as caught:
        read_json(task / "layer_03" / "metrics.json")
    message = str(caught.value)
    assert f"{task}/layer_03/metrics.json: damaged (JSONDecodeError: " in message
    assert f"remove {task} and run snakemake again" in message


def test_a_damaged_checkpoint_is_caught_by_its_hash_and_named(tmp_path, monkeypatch):
    from strata.models.card import load_model, prepare_model
    from strata.models.checkpoints import read_state

    monkeypatch.syspath_prepend(str(ROOT / "tests" / "extension"))
    cfg = {"family": "strata_toys.encoders:ProjectionFamily", "init": "random", "seed": 0}
    model_dir = tmp_path / "results" / "models" / "toy"
    prepare_model("toy", cfg, model_dir)
    assert load_model(model_dir, cfg)[1]["model"] == "toy"  # intact: loads
    weights = model_dir / "projections.safetensors"
    truncate(weights)
    with pytest.raises(DamagedFileError) as caught:
        load_model(model_dir, cfg)
    message = str(caught.value)
    assert message.startswith(f"{weights}: damaged (its sha256 is not the weights_sha256 ")
    assert f"remove {model_dir} and run snakemake again" in message
    state = tmp_path / "ckpt" / "model.pt"  # a checkpoint outside the run: an input
    state.parent.mkdir()
    state.write_bytes(b"PK\x03\x04 not a whole zip")
    with pytest.raises(DamagedFileError, match=f"{state}: damaged .* restore it from its source"):
        read_state(state)


def test_the_rebuild_hint_names_the_job_output_or_the_source():
    from pathlib import Path

    from strata.io import rebuild_hint

    similarity = Path("results/similarity/a/b/embedded/frame/linear_cka.parquet")
    assert rebuild_hint(similarity).startswith(f"remove {similarity} and run")
    summary = Path("results/probes/summary/embedded/phones.parquet")
    assert rebuild_hint(summary).startswith(f"remove {summary} and run")
    shipped = Path("checkpoints/wavlm_mp_s0/checkpoint/model.safetensors")
    assert rebuild_hint(shipped) == f"restore the shipped file: git checkout -- {shipped}"
