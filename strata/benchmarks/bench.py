"""`make bench`: timings of the default DAG and of feature extraction, into a Markdown file.

DAG timings (the default run's, and the smoke study's: configs/smoke.yaml) come from
Snakemake's own ``benchmark:`` files, so they measure each job as it really runs (process start
and imports included); extraction ones from :mod:`strata.benchmarks.extraction`; the paper
grid's planning overhead from :mod:`strata.benchmarks.dag`; probe jobs on SLURM, grouped and
not, from :mod:`strata.benchmarks.slurm`.
Nothing here asserts anything.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


def summarise_benchmarks(bench_dir: Path) -> pd.DataFrame:
    """One row per rule: job count, summed/mean/max wall seconds, peak RSS."""
    rows = []
    for path in sorted(bench_dir.rglob("*.tsv")):
        rule = path.relative_to(bench_dir).parts[0]
        row = pd.read_csv(path, sep="\t").iloc[-1]
        rows.append({"rule": rule, "s": float(row["s"]), "max_rss": float(row["max_rss"])})
    jobs = pd.DataFrame(rows)
    table = jobs.groupby("rule", sort=False).agg(
        jobs=("s", "size"),
        total_s=("s", "sum"),
        mean_s=("s", "mean"),
        max_s=("s", "max"),
        peak_rss_mb=("max_rss", "max"),
    )
    return table.sort_values("total_s", ascending=False).round(1)


def machine() -> str:
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{mem_gib:.0f} GiB, {gpu}; Python {platform.python_version()}, torch {torch.__version__}"
    )


def run_study(configfile: Path, workdir: Path, cores: int) -> float:
    """Run ``configfile``'s study from scratch in ``workdir``; returns wall seconds."""
    cmd = [
        str(Path(sys.executable).parent / "snakemake"),
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--configfile",
        str(configfile),
        "--cores",
        str(cores),
        "--quiet",
    ]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=workdir, check=True)
    return time.perf_counter() - start


def run_default(workdir: Path, cores: int) -> float:
    """Run the default config from scratch in ``workdir``; returns wall seconds."""
    return run_study(ROOT / "config.yaml", workdir, cores)


SMOKE = ROOT / "configs" / "smoke.yaml"
_RULE = re.compile(r"^(?:rule|checkpoint) (\w+):|^use rule \w+ as (\w+)", re.M)


def workflow_rules(root: Path = ROOT) -> set[str]:
    """Every rule ``root``'s rules/*.smk define (``use rule ... as`` ones included)."""
    found: set[str] = set()
    for path in (root / "rules").glob("*.smk"):
        found |= {a or b for a, b in _RULE.findall(path.read_text())}
    return found


PROBE_RULES = (
    "train_probes",
    "train_frame_probes",
    "train_probe",
    "train_weighted_probe",
    "train_frame_probe",
    "train_frame_weighted_probe",
)


def _startup_seconds(log: Path) -> float:
    """The fixed cost a probe job logged (:data:`strata.workflow.STARTUP`)."""
    from strata.workflow import STARTUP

    prefix = STARTUP.split("%")[0]
    for line in log.read_text().splitlines():
        if prefix in line:
            return float(line.split(prefix)[1].split()[0])
    raise ValueError(f"{log}: no startup line")


def probe_overhead(workdir: Path) -> pd.DataFrame:
    """Per task (and in all), probe-stage jobs' wall seconds (their ``benchmark:`` files) and
    fixed seconds (process start to imports done, from their logs), and the fixed share."""
    rows = []
    for rule in PROBE_RULES:
        bench_dir = workdir / "benchmarks" / rule
        for bench in sorted(bench_dir.rglob("*.tsv")):
            relative = bench.relative_to(bench_dir)
            log = (workdir / "logs" / rule / relative).with_suffix(".log")
            wall = float(pd.read_csv(bench, sep="\t").iloc[-1]["s"])
            task = relative.parts[2].removesuffix(".tsv")
            rows.append({"task": task, "jobs": 1, "wall_s": wall, "fixed_s": _startup_seconds(log)})
    jobs = pd.DataFrame(rows)
    table = jobs.groupby("task").sum(numeric_only=True)
    table.loc["all probe jobs"] = jobs[["jobs", "wall_s", "fixed_s"]].sum()
    table["fixed_share"] = table["fixed_s"] / table["wall_s"]
    table["jobs"] = table["jobs"].astype(int)
    return table.round(3)


def training_runs(workdir: Path) -> list[Path]:
    """The run's own training outputs, or else the shipped checkpoints it loaded."""
    from strata.training.shipped import DIR

    trained = sorted((workdir / "results" / "trained").glob("[!.]*"))
    return trained or sorted((ROOT / DIR).glob("[!.]*"))


def training_table(workdir: Path) -> pd.DataFrame:
    """Per trained model: epochs, steps, training minutes (the loss table's per-epoch clocks,
    so a resumed run counts its epochs once), loss first and last epoch."""
    from strata.io import read_json
    from strata.training import LOSSES, SUMMARY
    from strata.training.shipped import DIR, origin

    rows = []
    for run in training_runs(workdir):
        summary = read_json(run / SUMMARY)
        losses = pd.read_parquet(run / LOSSES)
        minutes = losses.groupby("epoch")["seconds"].max().sum() / 60
        rows.append(
            {
                "model": summary["model"],
                "objective": summary["objective"],
                "epochs": summary["epochs"],
                "steps": summary["steps"],
                "minutes": round(minutes, 2),
                "first_epoch_loss": round(summary["first_epoch_loss"], 3),
                "last_epoch_loss": round(summary["last_epoch_loss"], 3),
                "where": f"{DIR}/{run.name}" if origin(run)["source"] == "shipped" else "this run",
            }
        )
    return pd.DataFrame(rows).set_index("model")


def dag_section(cores: int, workdir: Path, wall: float | None = None) -> list[str]:
    """The default run's wall time and per-rule costs, and the probe stage's fixed-cost share,
    from ``workdir`` where the default run has finished (its wall seconds, timed there, given
    as ``wall``)."""
    table = summarise_benchmarks(workdir / "benchmarks")
    probes = probe_overhead(workdir)
    training = training_table(workdir)
    timing = f"summed from the finished run in `{workdir}`"
    if wall is not None:
        timing = f"from scratch, `--cores {cores}`: **{wall / 60:.1f} min** wall"
    return [
        "## The default run",
        "",
        f"_{stamp()}._ Default `config.yaml`, {timing} (environment already installed). "
        "Per rule, from Snakemake's `benchmark:` files (seconds per job, process start and "
        "imports included):",
        "",
        table.to_markdown(),
        "",
        "## Training the three families",
        "",
        f"_{stamp()}._ The `train_model` jobs behind the default run's trained models: the "
        "checkpoints shipped in `checkpoints/` (trained ahead of time by `make train`, one CPU "
        "thread each, sharing the machine; not part of the default run's wall time), or the "
        "run's own. Minutes are the sum of each epoch's own clock from the loss table.",
        "",
        training.to_markdown(),
        "",
        "## Probe stage: fixed cost per job",
        "",
        f"_{stamp()}._ Each probe job logs how long after its process started it was ready to "
        "work (Python start, Snakemake's script preamble, imports: torch only for the CTC "
        "probes); its wall time is its `benchmark:` file's. Goal: fixed share <= 0.25 of the "
        "probe stage.",
        "",
        probes.to_markdown(),
        "",
    ]


def smoke_lines(cores: int, workdir: Path, wall: float) -> list[str]:
    """The smoke study's section, from ``workdir`` where it has run from scratch in ``wall``
    seconds."""
    table = summarise_benchmarks(workdir / "benchmarks")
    missing = sorted(workflow_rules() - set(table.index))
    return [
        "## Smoke study",
        "",
        f"_{stamp()}._ `configs/smoke.yaml` (the study that runs every rule, to check an install "
        f"or a cluster set-up) from scratch, `--cores {cores}`: **{wall / 60:.1f} min** wall "
        f"({wall:.0f} s; environment already installed), {int(table['jobs'].sum())} jobs. "
        f"Rules of the workflow it did not run: {', '.join(missing) or 'none'}. Per rule, from "
        "Snakemake's `benchmark:` files (seconds per job, process start and imports included):",
        "",
        table.to_markdown(),
        "",
    ]


def smoke_section(cores: int) -> list[str]:
    """Run configs/smoke.yaml from scratch in a temp folder and time it."""
    with tempfile.TemporaryDirectory(prefix="strata-bench-smoke-") as tmp:
        wall = run_study(SMOKE, Path(tmp), cores)
        return smoke_lines(cores, Path(tmp), wall)


def paper_dag_section(repeats: int = 3) -> list[str]:
    """Planning overhead of the paper grid: its dry run and its up-to-date no-op."""
    from strata.benchmarks.dag import GOAL_S, measure

    m = measure(repeats=repeats)
    jobs = m["jobs"]
    per_rule = ", ".join(f"{rule} {n}" for rule, n in jobs.items() if rule not in ("all", "total"))
    labels = {
        "dry run": "dry run, empty working directory (`snakemake -n`)",
        "no-op -n": "up-to-date no-op (`snakemake -n`)",
        "no-op --cores 1": "up-to-date no-op (`snakemake --cores 1`)",
    }
    table = pd.DataFrame(
        {
            "wall_s": [t.wall_s for t in m["timings"].values()],
            "cpu_s": [t.cpu_s for t in m["timings"].values()],
            f"wall <= {GOAL_S:g} s": [t.wall_s <= GOAL_S for t in m["timings"].values()],
        },
        index=[labels[key] for key in m["timings"]],
    )
    return [
        "## Paper grid: DAG planning",
        "",
        f"_{stamp()}._ `configs/paper.yaml` ({jobs['total']} jobs: {per_rule}), each timing a "
        f"fresh `snakemake` process (start, imports and parse included), best of {m['repeats']}; "
        f"machine load (1-min average) {os.getloadavg()[0]:.1f} when done. "
        "The grid runs against stand-ins (an HF cache holding only the hub models' "
        "`config.json` and empty ECAPA state-dict files; no audio, no weights), so that parsing "
        "also checks each fetched checkpoint's architecture against the planner's table, as it "
        "does once the real ones are fetched. The no-op is the same grid with all "
        f"{m['outputs']} outputs present, created empty and then marked done by "
        f"`snakemake --touch -F` ({m['metadata_records']} metadata records, as a finished run "
        f"leaves; {m['touch_s']:.0f} s, not part of the goal); it found "
        f"{m['noop_jobs_left']} jobs to run. Goal: <= {GOAL_S:g} s wall each; CPU seconds "
        "(user + system) show the cost on a busy machine.",
        "",
        table.round(2).to_markdown(),
        "",
    ]


def overhead_section(audio_seconds: float) -> list[str]:
    import torch

    from strata.benchmarks.extraction import ECAPA, WAVLM_BASE, overhead, synth_corpus

    with tempfile.TemporaryDirectory(prefix="strata-bench-") as tmp:
        root = Path(tmp) / "corpus"
        manifest = synth_corpus(root, audio_seconds)
        rows = {
            "WavLM Base (12 layers, random init)": overhead(WAVLM_BASE, manifest, root),
            "ECAPA-TDNN (SpeechBrain default, random init)": overhead(ECAPA, manifest, root),
        }
    device = "CUDA" if torch.cuda.is_available() else "CPU"
    return [
        "## Feature extraction",
        "",
        f"_{stamp()}._ Pipeline (`extract_features`: read FLAC, length-bucketed batches, one "
        f"forward per batch, pool, write every layer's shard in manifest order) against a bare "
        f"batched forward of the same model on the same batches, audio already in memory; one "
        f"process, {device}, best of 2. Goal: ratio <= 1.15.",
        "",
        pd.DataFrame(rows).T.to_markdown(),
        "",
    ]


def frames_section(frame_seconds: list[float]) -> list[str]:
    from strata.benchmarks.extraction import HEAP_POLICIES, frame_level_rss

    memory = {}
    with tempfile.TemporaryDirectory(prefix="strata-bench-") as tmp:
        for policy in HEAP_POLICIES:
            for s in frame_seconds:
                memory[(policy, f"{s / 3600:.2f} h")] = frame_level_rss(s, Path(tmp), policy)
    table = pd.DataFrame(memory).T.rename_axis(["freed memory", "audio"]).reset_index()
    return [
        "## Frame-level memory",
        "",
        f"_{stamp()}._ Frame-level extraction of WavLM Base (13 layers, every frame, float32, "
        "batches of 32 s) in a fresh process per row: peak RSS should stay flat as the audio "
        "grows (rows spill to disk per batch). First rows: this project's heap policy "
        "(`strata.workflow`); then the two it replaced, in the same run: every tensor a fresh "
        "mmap (flat, but its pages are faulted in by the kernel each time) and glibc's "
        "default (fast, but freed pages stay on a fragmenting heap).",
        "",
        table.to_markdown(index=False),
        "",
    ]


def similarity_section(stream_frames: list[int]) -> list[str]:
    from strata.benchmarks.similarity import exact_matrix, streaming_rss

    exact = exact_matrix()
    streams = {f"n = {n:,} frames": streaming_rss(n) for n in stream_frames}
    return [
        "## Similarity: all pairs at once",
        "",
        f"_{stamp()}._ The 25 × 25 linear-CKA matrix of one model, n = 4,096, d = 768, float32 "
        "layers (as in the shards). Baseline: a per-pair feature-space computation in float64 "
        "that recomputes both sides for every pair (timed on 8 pairs, scaled to 625). Ours: "
        "each layer's Gram blocks once (float32 GEMMs), all pairs from one float64 product of "
        "the stacked blocks. Floor: the method's operation count at this machine's float32 "
        "GEMM rate on the same block shape. Goals: speed-up >= 20, time / floor <= 2, "
        "difference <= 1e-6.",
        "",
        pd.Series(exact, name="value").to_frame().to_markdown(floatfmt=".3g"),
        "",
        "## Similarity: streaming memory",
        "",
        f"_{stamp()}._ Minibatch unbiased-HSIC CKA, 25 + 25 layers, d = 1,024, minibatches "
        "of 1,024 rows, rows generated 2,000 at a time (as frame shards are read), one fresh "
        "process per n. Goal: peak RSS <= 2 GB, flat in n.",
        "",
        pd.DataFrame(streams).T.to_markdown(floatfmt=".4g"),
        "",
    ]


def stamp() -> str:
    return f"{dt.date.today().isoformat()}, {machine()}"


def merge_sections(old: str, new: list[str]) -> str:
    """``old`` Markdown with its ``## `` sections replaced by same-titled ones in ``new`` (the
    rest kept: sections measured elsewhere, e.g. on a GPU machine); a new title goes after
    the section before it in ``new``."""

    def split(lines: list[str]) -> dict[str, list[str]]:
        sections: dict[str, list[str]] = {}
        title = ""
        for line in lines:
            if line.startswith("## "):
                title = line
            sections.setdefault(title, []).append(line)
        return sections

    kept, fresh = split(old.splitlines()), split(new)
    fresh.pop("", None)
    titles = [title for title in kept if title]
    previous = None
    for title in fresh:
        if title not in titles:
            titles.insert(titles.index(previous) + 1 if previous else len(titles), title)
        previous = title
    header = ["# Benchmarks", "", "Written by `make bench` (`python -m strata.benchmarks`).", ""]
    body = [(fresh.get(t) or kept[t]) for t in titles]
    lines = header + [line for section in body for line in [*_trimmed(section), ""]]
    return "\n".join(lines)


def _trimmed(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--audio-seconds", type=float, default=300.0)
    parser.add_argument("--frame-seconds", type=float, nargs="+", default=[300.0, 1200.0])
    parser.add_argument("--stream-frames", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--scale-hours", type=float, nargs="+", default=[1.0, 4.0, 16.0])
    parser.add_argument("--scale-buffer-mb", type=float, default=512.0)
    parser.add_argument(
        "--skip",
        choices=[
            "dag",
            "convergence",
            "smoke",
            "paper-dag",
            "slurm",
            "overhead",
            "frames",
            "similarity",
            "scale",
        ],  # fmt: skip
        nargs="*",
        default=[],
    )
    parser.add_argument(
        "--workdir", type=Path, help="summarise this finished default run instead of running one"
    )
    parser.add_argument("--wall-seconds", type=float, help="the --workdir run's measured wall")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="strata-bench-") as tmp:
        sections = run_sections(args, Path(tmp))
    old = args.out.read_text() if args.out.is_file() else ""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(merge_sections(old, sections))
    print("\n".join(sections))


def run_sections(args: argparse.Namespace, tmp: Path) -> list[str]:
    """Every section not skipped; the default run (in ``tmp`` unless ``--workdir`` names a
    finished one) feeds the DAG and convergence sections."""
    workdir, wall = args.workdir, args.wall_seconds
    if workdir is None and not {"dag", "convergence"} <= set(args.skip):
        workdir, wall = tmp, run_default(tmp, args.cores)
    sections = [] if "dag" in args.skip else dag_section(args.cores, workdir, wall)
    if "convergence" not in args.skip:
        from strata.benchmarks.convergence import convergence_section

        sections += convergence_section(stamp(), workdir, ROOT)
    if "smoke" not in args.skip:
        sections += smoke_section(args.cores)
    if "paper-dag" not in args.skip:
        sections += paper_dag_section()
    if "slurm" not in args.skip:
        from strata.benchmarks.slurm import slurm_section

        sections += slurm_section(stamp())
    if "overhead" not in args.skip:
        sections += overhead_section(args.audio_seconds)
    if "frames" not in args.skip:
        sections += frames_section(args.frame_seconds)
    if "similarity" not in args.skip:
        sections += similarity_section(args.stream_frames)
    if "scale" not in args.skip:
        from strata.benchmarks.scale import projection_section, scale_section

        sections += scale_section(stamp(), args.scale_hours, args.scale_buffer_mb)
        sections += projection_section(stamp(), ROOT)
    return sections


if __name__ == "__main__":
    main()
