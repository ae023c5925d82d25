"""hyperparams.yaml as inert data: tags kept as values, !ref resolved, nothing imported or run."""

import sys

import pytest

from strata.models.hparams import HparamsError, Tagged, constructor_args, load_hparams

TEXT = """\
n_mels: 60
base: /data
model: !new:pkg.Model
    input_size: !ref <n_mels>
    sizes: [1, 2]
path: !ref <base>/model.ckpt
run: !apply:os.system ["echo hi"]
"""


def test_tags_are_values_and_refs_resolve(tmp_path):
    (tmp_path / "h.yaml").write_text(TEXT)
    hp = load_hparams(tmp_path / "h.yaml")
    assert hp["model"] == Tagged("!new:pkg.Model", {"input_size": 60, "sizes": [1, 2]})
    assert hp["run"] == Tagged("!apply:os.system", ["echo hi"])
    assert hp["path"] == Tagged("!ref", "<base>/model.ckpt")  # an expression: left as written
    assert "pkg" not in sys.modules
    assert constructor_args(hp, "model", "pkg.Model", frozenset({"input_size", "sizes"}), "h") == {
        "input_size": 60,
        "sizes": [1, 2],
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !ref <missing>\n", "'a' refers to unknown 'missing'"),
        ("a: !ref <b>\nb: !ref <a>\n", "cycle"),
        ("- 1\n", "mapping at the top level"),
        ("a: [1\n", "not valid YAML"),
    ],
)
def test_unreadable_files_name_the_problem(tmp_path, text, message):
    (tmp_path / "h.yaml").write_text(text)
    with pytest.raises(HparamsError, match=message):
        load_hparams(tmp_path / "h.yaml")


def test_constructor_args_reject_what_strata_does_not_understand(tmp_path):
    (tmp_path / "h.yaml").write_text(TEXT)
    hp = load_hparams(tmp_path / "h.yaml")
    with pytest.raises(HparamsError, match=r"'model' has arguments .*\['sizes'\]"):
        constructor_args(hp, "model", "pkg.Model", frozenset({"input_size"}), "h.yaml")
    with pytest.raises(HparamsError, match="'run' must be !new:pkg.Model, found !apply:os.system"):
        constructor_args(hp, "run", "pkg.Model", frozenset(), "h.yaml")
