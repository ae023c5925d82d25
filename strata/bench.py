"""`make bench`: timings of the default DAG and of feature extraction, into a Markdown file.

DAG timings come from Snakemake's own ``benchmark:`` files, so they measure each job as it
really runs (process start and imports included); extraction ones from
:mod:`strata.bench_extraction`. Nothing here asserts anything.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


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


def run_default(workdir: Path, cores: int) -> float:
    """Run the default config from scratch in ``workdir``; returns wall seconds."""
    cmd = [
        str(Path(sys.executable).parent / "snakemake"),
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--configfile",
        str(ROOT / "config.yaml"),
        "--cores",
        str(cores),
        "--quiet",
    ]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=workdir, check=True)
    return time.perf_counter() - start


def dag_section(cores: int) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="strata-bench-") as tmp:
        wall = run_default(Path(tmp), cores)
        table = summarise_benchmarks(Path(tmp) / "benchmarks")
    return [
        "## The default run",
        "",
        f"Default `config.yaml`, from scratch, `--cores {cores}`: **{wall / 60:.1f} min** wall "
        "(environment already installed). Per rule, from Snakemake's `benchmark:` files "
        "(seconds per job, process start and imports included):",
        "",
        table.to_markdown(),
        "",
    ]


def overhead_section(audio_seconds: float) -> list[str]:
    import torch

    from strata.bench_extraction import ECAPA, WAVLM_BASE, overhead, synth_corpus

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
        f"Pipeline (`extract_features`: read FLAC, length-bucketed batches, one forward per "
        f"batch, pool, write every layer's shard in manifest order) against a bare batched "
        f"forward of the same model on the same batches, audio already in memory; one process, "
        f"{device}, best of 2. Goal: ratio <= 1.15.",
        "",
        pd.DataFrame(rows).T.to_markdown(),
        "",
    ]


def frames_section(frame_seconds: list[float]) -> list[str]:
    from strata.bench_extraction import frame_level_rss

    with tempfile.TemporaryDirectory(prefix="strata-bench-") as tmp:
        memory = {f"{s / 3600:.2f} h": frame_level_rss(s, Path(tmp)) for s in frame_seconds}
    return [
        "Frame-level extraction of WavLM Base (13 layers, every frame, float32) in a fresh "
        "process: peak RSS stays flat as the audio grows (rows spill to disk per batch).",
        "",
        pd.DataFrame(memory).T.to_markdown(),
        "",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--audio-seconds", type=float, default=300.0)
    parser.add_argument("--frame-seconds", type=float, nargs="+", default=[900.0, 3600.0])
    parser.add_argument("--skip", choices=["dag", "overhead", "frames"], nargs="*", default=[])
    args = parser.parse_args(argv)
    sections = [] if "dag" in args.skip else dag_section(args.cores)
    if "overhead" not in args.skip:
        sections += overhead_section(args.audio_seconds)
    if "frames" not in args.skip:
        sections += frames_section(args.frame_seconds)
    text = "\n".join(
        [
            "# Benchmarks",
            "",
            f"`make bench` on {dt.date.today().isoformat()}: {machine()}.",
            "",
            *sections,
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
