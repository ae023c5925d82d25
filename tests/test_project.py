"""Project-level checks: env pins agree with pyproject, the workflow is lint- and fmt-clean."""

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
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return dict(dep.split("==") for dep in deps)


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
