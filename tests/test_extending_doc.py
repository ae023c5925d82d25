"""docs/extending.md can be trusted: its code is the example package's (tests/extension), its
YAML is config that validates, and the example encoder keeps the contract the page states."""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import pytest
import yaml

from strata.config import ConfigError, validate_config
from strata.models import get_family, layer_specs
from strata.plan.study import Study
from strata.schema import check_schema
from strata.similarity.measures import get_measure

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "extending.md"
TOYS = ROOT / "tests" / "extension"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)
NAMED = re.compile(r"^#\s*(strata_toys/[\w/]+\.py)\b")
FAMILY = "strata_toys.encoders:ProjectionFamily"


@pytest.fixture(autouse=True)
def toys_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(TOYS))
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "models"))  # model_checks
    yield
    for name in [m for m in sys.modules if m.startswith("strata_toys")]:
        del sys.modules[name]


def blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(DOC.read_text()) if lang == language]


def elides(line: str) -> bool:
    return line.startswith("...") or line.startswith("# ...")


def missing_lines(block: list[str], source: list[str]) -> str | None:
    """The first line of ``block`` (stripped; blank lines ignored) that is not where it should
    be in ``source``: right after the previous one's match, or anywhere after it where an
    elision (``...``, ``# ...``) comes between. None when every line is found."""
    source = [line.strip() for line in source if line.strip()]
    at, skip = 0, True  # the first line may sit anywhere
    for line in (line.strip() for line in block if line.strip()):
        if elides(line):
            skip = True
            continue
        candidates = range(at, len(source)) if skip else range(at, min(at + 1, len(source)))
        found = next((i for i in candidates if source[i] == line), None)
        if found is None:
            return line
        at, skip = found + 1, False
    return None


def test_every_python_block_is_its_named_file_of_the_example_package():
    python = blocks("python")
    assert len(python) >= 5
    for body in python:
        first, *rest = body.splitlines()
        named = NAMED.match(first)
        assert named, f"a python block names no strata_toys file in its first line: {first!r}"
        source = (TOYS / named[1]).read_text().splitlines()
        line = missing_lines(rest, source)
        assert line is None, f"{named[1]} has no line {line!r} where docs/extending.md puts it"


def test_the_line_check_refuses_a_changed_a_reordered_or_a_silently_dropped_line():
    source = ["def f(x):", "    y = x + 1", "", "    z = y * 2", "    return z"]
    assert missing_lines(["def f(x):", "    ...", "return z"], source) is None
    assert missing_lines(["y = x + 1", "z = y * 2"], source) is None  # blank lines ignored
    assert missing_lines(["def f(x):", "return z"], source) == "return z"  # dropped unsaid
    assert missing_lines(["z = y * 2", "# ...", "y = x + 1"], source) == "y = x + 1"
    assert missing_lines(["y = x + 2"], source) == "y = x + 2"


def merged_config() -> dict:
    """configs/smoke.yaml with every YAML block of the page added (models, datasets, tasks;
    similarity keys replaced)."""
    config = yaml.safe_load((ROOT / "configs" / "smoke.yaml").read_text())
    for body in blocks("yaml"):
        fragment = yaml.safe_load(body)
        assert isinstance(fragment, dict) and fragment, body
        for section, value in fragment.items():
            assert section in ("models", "datasets", "tasks", "similarity"), section
            config[section] = {**config[section], **copy.deepcopy(value)}
    return config


def test_every_yaml_block_is_config_that_validates_and_loads():
    config = merged_config()
    validate_config(config)  # the schema and every cross-field rule, families' checks included
    for body in blocks("yaml"):
        fragment = yaml.safe_load(body)
        for name, model in fragment.get("models", {}).items():
            check_schema(model, "model", f"models.{name}")
            assert layer_specs(model), name
        for measure in fragment.get("similarity", {}).get("measures", []):
            assert get_measure(measure).name
    assert any(m.get("family") == FAMILY for m in config["models"].values())


def test_the_toy_family_refuses_what_it_cannot_build_naming_the_key():
    family = get_family(FAMILY)
    with pytest.raises(ConfigError, match="'init'"):
        family.check_config({"family": FAMILY, "init": "pretrained", "path": "/x"})
    config = merged_config()
    config["models"]["toy"]["config"]["width"] = 3  # not in its config_schema
    with pytest.raises(
        ConfigError, match=r"'models.toy.config.width': .*unknown key; known here: dim, spread"
    ):
        validate_config(config)
    config["models"]["toy"]["config"] = {"dim": "wide"}
    with pytest.raises(ConfigError, match="'models.toy.config.dim': 'wide' is not of type"):
        validate_config(config)


@pytest.fixture
def toy(tmp_path):
    cfg = {"family": FAMILY, "init": "random", "seed": 0, "config": {"dim": 6, "spread": True}}
    family = get_family(FAMILY)
    return family, cfg, family.load(cfg, family.materialise(cfg, tmp_path))


def test_the_toy_encoder_keeps_the_contract_padding_included(toy):
    import torch
    from model_checks import check_outputs, check_padding_invariance, make_waves

    family, cfg, encoder = toy
    specs = family.layer_specs(cfg)
    assert [(s.name, s.frame_rate) for s in specs][-1] == ("spread", None)
    assert encoder.to("cpu") is encoder
    waves, lengths = make_waves()
    out = check_outputs(encoder, specs, waves, lengths, frames=lambda n: max(n // 320, 1))
    assert out["spread"].hidden.shape == (4, 1, 6)
    check_padding_invariance(encoder, waves, lengths, atol=1e-6)
    # Shorter than one frame, beside a longer one: still one valid frame, the same as alone.
    short = torch.zeros(2, 1000)
    short[0], short[1, :100] = torch.randn(1000), torch.randn(100)
    check_padding_invariance(encoder, short, torch.tensor([1000, 100]), atol=1e-6)


def test_utterance_level_layers_stay_out_of_frame_level_jobs():
    config = merged_config()
    config["features"]["level"] = "frame"
    config["similarity"]["levels"] = ["utterance", "frame"]
    config["tasks"]["phones_toy"] = {"kind": "phoneme_recognition", "dataset": "embedded"}
    study = Study(config)
    assert [s.name for s in study.layers_at("toy", "utterance")] == ["frames", "mixed", "spread"]
    assert [s.name for s in study.layers_at("toy", "frame")] == ["frames", "mixed"]
    assert [s.name for s in study.probe_layers("toy", "pitch")][-1] == "spread"
    assert [s.name for s in study.probe_layers("toy", "phones_toy")] == ["frames", "mixed"]


def test_branch_is_refused_for_a_family_by_import_path():
    """It would be silently ignored: only the built-in speaker families read it."""
    config = merged_config()
    toy = config["models"]["toy"]
    del toy["seed"]
    toy.update(init="pretrained", path="toy.safetensors", branch="student")
    with pytest.raises(ConfigError, match="'models.toy.branch': .*reads its own options"):
        validate_config(config)
