from pathlib import Path

import pandas as pd

from strata.benchmarks.bench import (
    main,
    merge_sections,
    probe_overhead,
    smoke_lines,
    summarise_benchmarks,
    workflow_rules,
)

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def test_summarise_benchmarks_groups_jobs_by_rule(tmp_path):
    jobs = {
        "train_probe/m/a.tsv": (2.0, 100),
        "train_probe/m/b.tsv": (4.0, 300),
        "report/report.tsv": (1.5, 50),
    }
    for name, (seconds, rss) in jobs.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(HEADER + f"{seconds}\t0:00:0{int(seconds)}\t{rss}\t0\t0\t0\t0\t0\t0\t0\n")
    table = summarise_benchmarks(tmp_path)
    assert list(table.index) == ["train_probe", "report"]  # by total time, largest first
    probe = table.loc["train_probe"]
    assert (probe["jobs"], probe["total_s"], probe["mean_s"], probe["max_s"]) == (2, 6.0, 3.0, 4.0)
    assert probe["peak_rss_mb"] == 300
    assert isinstance(table, pd.DataFrame)


def write_job(root, rule, name, seconds, ready=None):
    bench = root / "benchmarks" / rule / f"{name}.tsv"
    bench.parent.mkdir(parents=True, exist_ok=True)
    bench.write_text(HEADER + f"{seconds}\t0:00:01\t100\t0\t0\t0\t0\t0\t0\t0\n")
    log = root / "logs" / rule / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(
        f"08:00:00,000 strata.probes.run: ready {ready:.3f} s after the process started\n"
    )


def test_probe_overhead_sums_logged_fixed_cost_against_benchmarked_wall_time(tmp_path):
    write_job(tmp_path, "train_probe", "m/d/sid/layer_00", 2.0, ready=1.0)
    write_job(tmp_path, "train_probe", "m/d/sid/layer_01", 3.0, ready=0.5)
    write_job(tmp_path, "train_probe", "m/d/pr/layer_00", 30.0, ready=3.0)
    write_job(tmp_path, "train_weighted_probe", "m/d/pr", 60.0, ready=2.5)
    table = probe_overhead(tmp_path)
    assert table.loc["sid", ["jobs", "wall_s", "fixed_s"]].tolist() == [2, 5.0, 1.5]
    assert table.loc["pr", ["jobs", "wall_s", "fixed_s"]].tolist() == [2, 90.0, 5.5]
    total = table.loc["all probe jobs"]
    assert total["fixed_share"] == round(7.0 / 95.0, 3)


def test_workflow_rules_reads_rules_and_their_use_rule_copies(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.smk").write_text(
        "rule first:\n    output: 'x'\n\n\nuse rule first as second with:\n    output: 'y'\n"
    )
    (tmp_path / "rules" / "b.smk").write_text("localrules:\n    third,\n\n\nrule third:\n")
    assert workflow_rules(tmp_path) == {"first", "second", "third"}
    assert {"train_model", "train_frame_probes", "train_weighted_probe"} <= workflow_rules()


def test_the_smoke_section_gives_wall_jobs_per_rule_and_the_rules_not_run(tmp_path):
    for rule, name, seconds in [
        ("train_probe", "m/d/sid/layer_00", 2.0),
        ("train_probe", "m/d/sid/layer_01", 3.0),
        ("report", "report", 1.0),
    ]:
        write_job(tmp_path, rule, name, seconds, ready=0.5)
    lines = smoke_lines(2, tmp_path, wall=90.0)
    assert lines[0] == "## Smoke study"
    text = "\n".join(lines)
    assert "`--cores 2`: **1.5 min** wall (90 s;" in text and "3 jobs" in text
    assert "did not run: " in text and "train_model" in text  # every rule this run lacks
    assert "| train_probe |" in text.replace("  ", "")


def test_the_smoke_section_can_be_skipped_alone(tmp_path, monkeypatch):
    import strata.benchmarks.bench as bench

    ran = []
    monkeypatch.setattr(bench, "smoke_section", lambda cores: ran.append(cores) or ["## Smoke"])
    others = ["dag", "convergence", "paper-dag", "slurm", "overhead", "frames", "similarity"]
    main(["--out", str(tmp_path / "a.md"), "--cores", "3", "--skip", *others, "scale"])
    assert ran == [3] and "## Smoke" in (tmp_path / "a.md").read_text()
    main(["--out", str(tmp_path / "b.md"), "--skip", *others, "scale", "smoke"])
    assert ran == [3] and "## " not in (tmp_path / "b.md").read_text()


def test_merge_sections_replaces_same_titled_sections_and_keeps_the_rest():
    old = "# Benchmarks\n\nintro\n\n## A\n\nold a\n\n## GPU\n\nkept\n"
    merged = merge_sections(old, ["## A", "", "new a", "", "## B", "", "new b", ""])
    assert "old a" not in merged and "new a" in merged and "kept" in merged
    assert merged.index("## A") < merged.index("## B") < merged.index("## GPU")  # B follows A


def test_similarity_bench_measures_agreement_and_streams_small_sizes():
    from strata.benchmarks.similarity import exact_matrix, streaming_worker
    from strata.similarity.linear import gram_flops

    row = exact_matrix(n=300, d=16, layers=3, sample=4)
    assert row["max |difference| from the per-pair float64 values (4 pairs)"] < 1e-6
    assert (
        row["operations of the blocked Gram path (GFLOP)"]
        == gram_flops(300, [16] * 3, None, 1024) / 1e9
        == 2 * 300 * 300 * (48 + 9) / 1e9
    )  # one block: every cell once
    stream = streaming_worker(n=5000, d=8, layers=2, batch=1000)
    assert stream["minibatches"] == 5 and stream["diagonal_mean"] < 1.0


DRY_RUN = """\
Job stats:
job                 count
----------------  -------
prepare_model           1
train_probe             1
all                     1
total                   3


[Thu Nov 26 14:10:14 2026]
rule prepare_model:
    output: results/models/m
    wildcards: model=m
[Thu Nov 26 14:10:14 2026] Group job probes (jobs in lexicogr. order):

    [Thu Nov 26 14:10:14 2026]
    rule train_probe:
        input: results/features/m/d, results/data/d
        output: results/probes/m/d/t/l0/metrics.json, results/probes/m/d/t/l0/probe.safetensors
        wildcards: model=m, dataset=d, task=t, layer=layer_00

[Thu Nov 26 14:10:14 2026]
localrule all:
    input: results/report/index.html
"""


def test_bench_dag_reads_a_dry_run_and_makes_its_outputs(tmp_path):
    from strata.benchmarks.dag import fake_outputs, job_counts, planned_outputs

    assert job_counts(DRY_RUN) == {"prepare_model": 1, "train_probe": 1, "all": 1, "total": 3}
    assert job_counts("Nothing to be done.") == {}
    jobs = planned_outputs(DRY_RUN)  # the group job's indented block too; `all` has no output
    assert [rule for rule, _ in jobs] == ["prepare_model", "train_probe"]
    assert fake_outputs(tmp_path, jobs) == 3
    assert (tmp_path / "results/models/m").is_dir()
    assert (tmp_path / "results/probes/m/d/t/l0/probe.safetensors").is_file()


def test_bench_dag_standins_resolve_as_the_hf_cache_and_state_dicts(tmp_path):
    import yaml
    from huggingface_hub import snapshot_download

    from strata.benchmarks.dag import make_standins

    commit = "c1423ed94bb01d80a3f5ce5bc39f6026a0f4828c"
    hf = {"family": "hf_transformers", "init": "pretrained"}
    config = {
        "models": {
            "large": {**hf, "path": "microsoft/wavlm-large", "revision": commit},
            "base": {**hf, "path": "microsoft/wavlm-base"},  # branch main
            "dino": {
                "family": "speechbrain_ecapa",
                "init": "pretrained",
                "path": "/nonexistent/checkpoint.pth",
                "frontend": "rdino_logmel",
            },
        }
    }
    standins = make_standins(tmp_path, config, extra={"datasets": {"d": {"root": "/x"}}})
    cache = standins.env["HF_HUB_CACHE"]
    for hub_id, revision in (("microsoft/wavlm-large", commit), ("microsoft/wavlm-base", "main")):
        snapshot = snapshot_download(
            hub_id, revision=revision, cache_dir=cache, local_files_only=True
        )
        assert (Path(snapshot) / "config.json").is_file()
    assert Path(standins.paths["dino"]).is_file()
    override = yaml.safe_load(standins.override.read_text())
    assert override == {
        "models": {"dino": {"path": standins.paths["dino"]}},
        "datasets": {"d": {"root": "/x"}},
    }
