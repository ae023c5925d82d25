import signal
import subprocess
import sys

import pytest

from strata.io import atomic_dir, atomic_path, read_json, write_json


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
