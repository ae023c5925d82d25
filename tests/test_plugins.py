"""Code named by import path: loaded when it is what the key asks for, refused with the path
and the reason when it is not."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import yaml

from strata.config import ConfigError, validate_config
from strata.datasets.registry import dataset_kind
from strata.models import get_family, layer_specs
from strata.plugins import file_stem, is_import_path, load_object
from strata.similarity.measures import get_measure

ROOT = Path(__file__).resolve().parents[1]
TOYS = ROOT / "tests" / "extension"


@pytest.fixture(autouse=True)
def toys_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(TOYS))
    yield
    for name in [m for m in sys.modules if m.startswith("strata_toys")]:
        del sys.modules[name]


def test_an_import_path_loads_and_a_bad_one_says_why():
    assert load_object("os.path:join") is __import__("os").path.join
    assert load_object("strata.plugins:load_object.__name__") == "load_object"
    with pytest.raises(ValueError, match="expected an import path"):
        load_object("os.path.join", "model family")
    with pytest.raises(ImportError, match="'no_such_pkg.x:Y'.*cannot import 'no_such_pkg.x'"):
        load_object("no_such_pkg.x:Y", "model family")
    with pytest.raises(ImportError, match="'os:nothing_here'.*has no 'nothing_here'"):
        load_object("os:nothing_here")


def test_a_package_not_importable_says_where_it_must_be_installed(tmp_path, monkeypatch):
    with pytest.raises(ImportError) as caught:
        load_object("mymodels.encoders:Mine", "model family")
    message = str(caught.value)
    assert "cannot import 'mymodels.encoders' (No module named 'mymodels')" in message
    assert "'mymodels' must be importable wherever the workflow runs" in message
    assert "pip install -e" in message and "PYTHONPATH" in message and "SLURM" in message
    # Found, but a dependency of it is missing: that is what to install.
    (tmp_path / "broken.py").write_text("import not_installed_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError, match="'broken' was found but imports 'not_installed_dep"):
        load_object("broken:Mine", "model family")
    assert is_import_path("a.b:C") and not is_import_path("linear_cka")
    assert file_stem("a.b:C") == "a.b.C" and file_stem("linear_cka") == "linear_cka"


def test_each_registry_takes_its_own_kind_of_object_by_import_path():
    family = get_family("strata_toys.encoders:ProjectionFamily")
    model = {"family": "strata_toys.encoders:ProjectionFamily", "config": {"dim": 5}}
    assert [(s.name, s.dim) for s in layer_specs(model)] == [("frames", 5), ("mixed", 5)]
    assert family.name == "toy_projection"
    assert get_measure("strata_toys.measures:LinearR2").name == "linear_r2"
    assert dataset_kind("strata_toys.corpora:TONES").labels == ("speaker", "pitch")
    with pytest.raises(TypeError, match="not a strata.models.base.ModelFamily"):
        get_family("strata_toys.measures:LinearR2")
    with pytest.raises(TypeError, match="not a strata Measure"):
        get_measure("strata_toys.corpora:TONES")
    with pytest.raises(TypeError, match="not a strata.datasets.DatasetKind"):
        dataset_kind("strata_toys.encoders:ProjectionFamily")


def test_the_schema_takes_import_paths_where_a_registry_name_goes():
    config = yaml.safe_load((ROOT / "configs" / "smoke.yaml").read_text())
    config["models"]["toy"] = {
        "family": "strata_toys.encoders:ProjectionFamily", "init": "random", "seed": 0,
    }  # fmt: skip
    config["similarity"]["measures"].append("strata_toys.measures:LinearR2")
    validate_config(config)
    trained = copy.deepcopy(config)
    train = yaml.safe_load((ROOT / "config.yaml").read_text())["models"]["ecapa_aam"]["train"]
    train["dataset"] = "embedded"
    trained["models"]["toy"] |= {"init": "trained", "train": train}
    with pytest.raises(ConfigError, match="models.toy.init"):
        validate_config(trained)
    bad = copy.deepcopy(config)
    bad["models"]["toy"]["family"] = "strata_toys/encoders.py"
    with pytest.raises(ConfigError, match="models.toy.family"):
        validate_config(bad)
