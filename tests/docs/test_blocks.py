"""Generated passages: current, rendered only from committed sources, and guarded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import strata.docs.committed  # noqa: F401
import strata.docs.default_run  # noqa: F401
import strata.docs.dynamics_run  # noqa: F401
from strata.docs.blocks import BLOCKS, Sources, render_file, stale
from strata.docs.snapshot import log_facts, take_snapshot
from strata.report.results import results_markdown

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "docs" / "runs" / "default"


def test_every_generated_block_is_what_make_docs_writes():
    assert stale(ROOT) == [], "run `make docs` and commit what it rewrites"


def test_every_registered_block_is_used_somewhere():
    text = "".join(p.read_text() for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
    assert {name for name in BLOCKS if f"<!-- make docs: {name} -->" not in text} == set()


def test_render_replaces_only_the_block_and_names_unknown_ones(tmp_path):
    sources = Sources(ROOT)
    text = (
        "before\n<!-- make docs: default-run -->\nstale\n"
        "<!-- end make docs: default-run -->\nafter\n"
    )
    out = render_file(text, sources, "x.md")
    assert out.startswith("before\n<!-- make docs: default-run -->\nFrom a fresh clone's")
    assert out.endswith("<!-- end make docs: default-run -->\nafter\n") and "stale" not in out
    with pytest.raises(KeyError, match="x.md: no block named 'nope'"):
        render_file("<!-- make docs: nope -->\n<!-- end make docs: nope -->", sources, "x.md")


def test_results_block_equals_the_documented_command_on_the_snapshot():
    """`python -m strata.report.results` reads the two tables the snapshot keeps."""
    block = BLOCKS["results"](Sources(ROOT))
    assert block.startswith(results_markdown(SNAPSHOT))


def test_findings_refuse_a_run_that_contradicts_their_prose(tmp_path):
    """A sentence the numbers no longer bear out stops `make docs` instead of going stale."""
    shutil.copytree(SNAPSHOT, tmp_path / "docs" / "runs" / "default")
    best = tmp_path / "docs" / "runs" / "default" / "best_layers.csv"
    table = pd.read_csv(best)
    table.loc[(table["task"] == "intent") & (table["model"] == "ge2e"), "test"] = 0.99
    table.to_csv(best, index=False)
    with pytest.raises(ValueError, match="wavlm_mp wins on intents"):
        BLOCKS["findings"](Sources(tmp_path))


LOG = """Building DAG of jobs...
  Date: 2026-12-01 10:00:00
Provided cores: 4
[Mon Dec  1 10:00:01 2026]
169 of 169 steps (100%) done
Complete log(s): /x/.snakemake/log/a.snakemake.log
Elapsed time: 1:02:03.5
"""


def test_log_facts_read_a_finished_run(tmp_path):
    log = tmp_path / "a.snakemake.log"
    log.write_text(LOG)
    assert log_facts(log) == {"date": "2026-12-01", "cores": 4, "jobs": 169, "wall_seconds": 3723.5}
    log.write_text(LOG.replace("169 of 169 steps (100%) done", "12 of 169 steps (7%) done"))
    with pytest.raises(ValueError, match="not the log of a finished run"):
        log_facts(log)


def fake_run(workdir: Path, code_version: str) -> None:
    """The files a snapshot reads, in a finished run's layout."""
    report = workdir / "results" / "report"
    (report / "figures").mkdir(parents=True)
    for name in ("best_layers.csv", "verdicts.csv", "probe_phones.png"):
        shutil.copy(SNAPSHOT / name, report / ("figures" if name.endswith("png") else "") / name)
    summary = workdir / "results" / "probes" / "summary" / "embedded"
    summary.mkdir(parents=True)
    shutil.copy(SNAPSHOT / "probes" / "phones.csv", summary / "phones.csv")
    card = workdir / "results" / "models" / "m"
    card.mkdir(parents=True)
    (card / "card.json").write_text(f'{{"provenance": {{"code_version": "{code_version}"}}}}')
    bench = workdir / "benchmarks" / "report"
    bench.mkdir(parents=True)
    (bench / "report.tsv").write_text("s\tmax_rss\n12.5\t300\n")
    logs = workdir / ".snakemake" / "log"
    logs.mkdir(parents=True)
    (logs / "a.snakemake.log").write_text(LOG)


def test_snapshot_keeps_the_run_facts_and_refuses_a_dirty_tree(tmp_path):
    fake_run(tmp_path / "run", "0.1.0+abc123")
    facts = take_snapshot(tmp_path / "run", tmp_path / "snap")
    assert facts["code_version"] == "0.1.0+abc123" and facts["wall_seconds"] == 3723.5
    assert (tmp_path / "snap" / "probes" / "phones.csv").read_bytes() == (
        SNAPSHOT / "probes" / "phones.csv"
    ).read_bytes()
    assert pd.read_csv(tmp_path / "snap" / "rules.csv")["total_s"].tolist() == [12.5]
    fake_run(tmp_path / "dirty", "0.1.0+abc123-dirty")
    with pytest.raises(ValueError, match="dirty tree"):
        take_snapshot(tmp_path / "dirty", tmp_path / "snap2")
