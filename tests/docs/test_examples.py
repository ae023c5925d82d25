"""Every command and code block in the README and docs/ is run, validated or accounted for."""

from __future__ import annotations

import copy
import functools
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from strata.docs.blocks import documents
from strata.docs.examples import EXCERPTS, code_blocks, runnable_python
from strata.io import read_json
from strata.report.results import results_markdown
from strata.schema import check_schema, load_schema

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SNAPSHOT = ROOT / "docs" / "runs" / "default"
LANGUAGES = {"bash", "python", "yaml", "text"}
# Placeholders the docs use for "your file", and the real file a test runs in their place.
PLACEHOLDERS = {"my.yaml": "configs/smoke.yaml"}
# Commands shown but not run here, each with where it is exercised instead.
NOT_RUN = {
    "snakemake --report": "needs a finished run: tests/e2e/test_snakemake_report.py runs it",
    "python -m strata.benchmarks": "is `make bench` itself (an hour): its sections have unit tests",
    "python -m strata.training.shipped": "writes checkpoints/: tests/training/test_shipped.py",
}
# strata modules run for real: they read committed files and write nothing.
RUN = {"strata.plan", "strata.report.results"}
INLINE = re.compile(r"`((?:\.venv/bin/)?(?:snakemake|make|python -m) [^`]*|snakemake)`")
DOCS = [str(p.relative_to(ROOT)) for p in documents(ROOT)]


def commands() -> list[tuple[str, str]]:
    """(where, command) for each distinct command: the lines of bash blocks and the commands
    inline in prose (the first place each is written)."""
    found = []
    for block in code_blocks(ROOT):
        if block.lang == "bash":
            for i, line in enumerate(block.body.splitlines()):
                command = line.split(" # ")[0].strip()
                if command and not command.startswith("#"):
                    found.append((f"{block.file}:{block.line + 1 + i}", command))
    for name in DOCS:
        text = re.sub(r"^```.*?^```$", "", (ROOT / name).read_text(), flags=re.M | re.S)
        found += [(name, m) for m in INLINE.findall(text) if "<" not in m and "..." not in m]
    first: dict[str, str] = {}
    for where, command in found:
        first.setdefault(" ".join(command.removeprefix(".venv/bin/").split()), where)
    return sorted((where, command) for command, where in first.items())


@functools.cache
def make_targets() -> set[str]:
    database = subprocess.run(["make", "-qp"], cwd=ROOT, capture_output=True, text=True).stdout
    return set(re.findall(r"^([\w-]+):", database, re.M))


def argv(command: str) -> list[str]:
    words = [PLACEHOLDERS.get(w, w) for w in shlex.split(command)]
    program = words[0].removeprefix(".venv/bin/")
    return [str(BIN / program) if program in ("snakemake", "python") else program, *words[1:]]


def test_every_fence_names_its_language():
    untagged = [f"{b.file}:{b.line}" for b in code_blocks(ROOT) if b.lang not in LANGUAGES]
    assert untagged == []


def snakemake_args(args: list[str]) -> list[str] | None:
    """The arguments of a snakemake command (``snakemake`` or ``python -m snakemake``)."""
    if Path(args[0]).name == "snakemake":
        return args[1:]
    return args[3:] if args[1:3] == ["-m", "snakemake"] else None


def study(args: list[str]) -> tuple[str, ...]:
    """The config files a snakemake command runs (everything after --configfile)."""
    return tuple(args[args.index("--configfile") + 1 :]) if "--configfile" in args else ()


@pytest.mark.parametrize("where,command", commands())
def test_documented_command_runs(where, command):
    """make targets exist; snakemake's own parser accepts the options and the profile and
    config files exist (each study's DAG is built below); strata's read-only modules run and
    say what the docs say; anything else must be listed in NOT_RUN with where it runs."""
    args = argv(command)
    reason = next((why for prefix, why in NOT_RUN.items() if command.removeprefix(
        ".venv/bin/").startswith(prefix)), None)  # fmt: skip
    if reason:
        pytest.skip(reason)
    if args[0] == "make":
        target = next(a for a in args[1:] if "=" not in a)
        assert target in make_targets(), f"{where}: no make target {target!r}"
        return
    if (options := snakemake_args(args)) is not None:
        from snakemake.cli import get_argument_parser

        parsed = get_argument_parser().parse_args(options)  # exits on an unknown option
        profiles = parsed.profile if isinstance(parsed.profile, list) else [parsed.profile]
        assert all((ROOT / p).is_dir() for p in profiles if p), f"{where}: {command}"
        assert all((ROOT / f).is_file() for f in study(options)), f"{where}: {command}"
        return
    assert args[1:2] == ["-m"] and args[2] in RUN, f"{where}: {command} is neither run nor listed"
    if args[2] == "strata.report.results":  # the snapshot holds the report's two tables
        args = [args[0], "-m", "strata.report.results", str(SNAPSHOT)]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{where}: {command}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    if args[2] == "strata.report.results":
        assert proc.stdout.strip() == results_markdown(SNAPSHOT).strip()


def documented_studies() -> list[tuple[str, str]]:
    """The first documented snakemake command of each study (set of config files)."""
    first: dict[tuple[str, ...], tuple[str, str]] = {}
    for where, command in commands():
        options = snakemake_args(argv(command))
        if options is not None and not {"--lint", "--unlock", "--report"} & set(options):
            first.setdefault(study(options), (where, command))
    return list(first.values())


@pytest.mark.parametrize("where,command", documented_studies())
def test_documented_study_builds_its_dag(where, command, tmp_path):
    """A dry run, in a scratch working directory, of each study the docs run."""
    args = argv(command)
    options = snakemake_args(args)
    cut = len(args) - len(study(options)) - (1 if study(options) else 0)
    args = [*args[:cut], "-n", "--directory", str(tmp_path), *args[cut:]]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{where}: {command}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    assert "This was a dry-run" in proc.stdout


def test_every_python_example_ran_in_the_snapshots_run():
    """`make docs RUN=<a finished default run>` runs them; an edit since then shows here."""
    ran = read_json(SNAPSHOT / "examples.json")
    missing = [f"{b.file}:{b.line}" for b in runnable_python(ROOT) if b.digest not in ran]
    assert missing == [], "re-run `make docs RUN=<finished default run>`"


def merged(base: dict, fragment: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in fragment.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize(
    "block",
    [b for b in code_blocks(ROOT) if b.lang == "yaml" and b.file not in EXCERPTS],
    ids=lambda b: f"{b.file}:{b.line}",
)
def test_yaml_example_is_a_valid_config_fragment(block):
    """Merged into the default config, the fragment passes the schema (unknown keys fail)."""
    base = yaml.safe_load((ROOT / "config.yaml").read_text())
    check_schema(merged(base, yaml.safe_load(block.body)))


CONFIG_KEY = re.compile(
    r"`((?:datasets|models|tasks|features|probe|similarity|training|report|limits)(?:\.[\w<>]+)+)"
)


FILE_SUFFIXES = {"json", "safetensors", "parquet", "csv", "pt", "yaml", "py", "md"}


def schema_has(schema: dict, node: dict, path: list[str]) -> bool:
    """Whether ``path`` names a key the schema defines (``<x>``, or any name under a map)."""
    if "$ref" in node:
        node = schema["$defs" if "$defs" in schema else "definitions"][node["$ref"].split("/")[-1]]
    if not path:
        return True
    alternatives = [*node.get("oneOf", []), *node.get("anyOf", []), *node.get("allOf", [])]
    if any(schema_has(schema, alt, path) for alt in alternatives):
        return True
    head, rest = path[0], path[1:]
    if head in node.get("properties", {}):
        return schema_has(schema, node["properties"][head], rest)
    maps = [*node.get("patternProperties", {}).values()]
    if isinstance(node.get("additionalProperties"), dict):
        maps.append(node["additionalProperties"])
    return any(schema_has(schema, m, rest) for m in maps)


def was_replaced(key: str) -> bool:
    """A key of an earlier release, named in the docs with what replaced it."""
    from strata.schema import REPLACED

    parts = key.split(".")
    return any(
        len(p) == len(parts) and all(a in ("*", b) for a, b in zip(p, parts, strict=True))
        for p in REPLACED
    )


def test_every_config_key_named_in_the_docs_exists():
    schema, unknown = load_schema(), []
    assert schema_has(schema, schema, ["probe", "lrs"]) and not schema_has(
        schema, schema, ["probe", "lr"]
    )
    for name in DOCS:
        for key in CONFIG_KEY.findall((ROOT / name).read_text()):
            if key.rsplit(".", 1)[-1] in FILE_SUFFIXES:  # a file name, not a key
                continue
            if not schema_has(schema, schema, key.split(".")) and not was_replaced(key):
                unknown.append(f"{name}: {key}")
    assert unknown == []


LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    """GitHub's heading slugs: lower case, punctuation dropped, spaces to hyphens."""
    slugs = set()
    for heading in re.findall(r"^#+ (.+)$", path.read_text(), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower().replace("`", "")).replace(" ", "-")
        slugs.add(slug)
    return slugs


def test_every_relative_link_and_anchor_resolves():
    broken = []
    for name in DOCS:
        for target in LINK.findall((ROOT / name).read_text()):
            if re.match(r"\w+://", target):
                continue
            file, _, anchor = target.partition("#")
            path = ((ROOT / name).parent / file).resolve() if file else ROOT / name
            if not path.exists() or (anchor and anchor not in anchors(path)):
                broken.append(f"{name}: {target}")
    assert broken == []
