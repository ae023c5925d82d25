"""Project-level checks: env pins agree with pyproject, the workflow is lint- and fmt-clean."""

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def pyproject_pins() -> dict[str, str]:
    """The run's pins: pyproject's dependencies and what the Makefile installs beside them."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    weights = re.search(r"^WEIGHTS := (.+)$", (ROOT / "Makefile").read_text(), re.M)[1].split()
    return dict(dep.split("==") for dep in [*deps, *weights])


@pytest.mark.parametrize("env", sorted((ROOT / "envs").glob("*.yaml")), ids=lambda p: p.stem)
def test_conda_env_pins_match_pyproject(env):
    pins = pyproject_pins()
    spec = yaml.safe_load(env.read_text())
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
    assert pip, env
    for requirement in pip:
        name, version = re.fullmatch(r"([\w.-]+)==([\w.+-]+)", requirement).groups()
        assert pins[name] == version, f"{env.name}: {name}=={version}, pyproject has {pins[name]}"


def test_every_rule_has_a_conda_env_that_exists():
    for smk in (ROOT / "rules").glob("*.smk"):
        for env in re.findall(r'conda:\s*"([^"]+)"', smk.read_text()):
            assert (smk.parent / env).resolve().is_file(), f"{smk.name}: {env}"


def test_snakemake_lint_is_clean():
    proc = subprocess.run([BIN / "snakemake", "--lint"], cwd=ROOT, capture_output=True, text=True)
    assert "Congratulations" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_snakefmt_is_clean():
    proc = subprocess.run(
        [BIN / "snakefmt", "--check", "Snakefile", "rules"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def rule_scripts_and_envs() -> list[tuple[Path, Path]]:
    """(script, conda env) per rule, read from rules/*.smk."""
    pairs = []
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        for rule in re.split(r"^rule ", smk.read_text(), flags=re.M)[1:]:
            env = re.search(r'conda:\s*"([^"]+)"', rule)
            script = re.search(r'script:\s*"([^"]+)"', rule)
            if env and script:
                pairs.append(((smk.parent / script[1]).resolve(), (smk.parent / env[1]).resolve()))
    return pairs


def direct_imports(files: list[str]) -> set[str]:
    """Top-level modules that these source files import, lazily inside functions included."""
    names = set()
    for file in files:
        for node in ast.walk(ast.parse(Path(file).read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize(("script", "env"), rule_scripts_and_envs(), ids=lambda p: p.stem)
def test_rule_script_imports_are_covered_by_its_conda_env(script, env):
    """Every package the script and the strata modules it loads import is pinned in its env."""
    code = "\n".join(
        line
        for line in script.read_text().splitlines()
        if line.startswith(("import ", "from ")) and "_checkout" not in line
    )
    probe = code + "\nimport sys\nprint('\\n'.join(m.__file__ for n, m in list(sys.modules.items())"
    probe += " if n.startswith('strata') and getattr(m, '__file__', None)))"
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=ROOT / "workflow_scripts",
        check=True,
    )
    modules = direct_imports([str(script), *proc.stdout.split()]) - sys.stdlib_module_names
    dists = importlib.metadata.packages_distributions()
    needed = {normalise(d) for m in modules for d in dists.get(m, [])} - {"strata"}
    spec = yaml.safe_load(env.read_text())
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
    pinned = {normalise(r.split("==")[0]) for r in pip}
    assert needed <= pinned, (
        f"{script.name} needs {sorted(needed - pinned)}, absent from {env.name}"
    )
