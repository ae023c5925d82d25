import copy
from pathlib import Path

import pytest
import yaml

from strata.config import ConfigError, validate_config

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "schemas" / "config.schema.yaml"


@pytest.fixture
def config():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_default_config_is_valid(config):
    validate_config(config, SCHEMA)


def mutate(config, path, value):
    config = copy.deepcopy(config)
    *parents, last = path
    node = config
    for key in parents:
        node = node[key]
    node[last] = value
    return config


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["probe", "lrr"], 0.1, "'probe.lrr' is not allowed"),
        (["colour"], "blue", "'colour' is not allowed"),
        (["models", "ge2e", "famly"], "x", "'models.ge2e.famly' is not allowed"),
        (["probe", "lr"], "fast", "'probe.lr': 'fast' is not of type 'number'"),
        (["features", "batch_seconds"], -1, "'features.batch_seconds'"),
        (["models", "ge2e", "family"], "nemo", "'models.ge2e.family'"),
        (["tasks", "keyword", "dataset"], "librispeech", "'tasks.keyword.dataset'"),
        (["similarity", "pairs"], [["ge2e", "whisper"]], "'similarity.pairs.0'"),
        (["datasets", "embedded", "voices", 0, "engine"], "say", "voices.0.engine"),
    ],
)
def test_bad_config_names_the_key(config, path, value, message):
    with pytest.raises(ConfigError, match=message.replace(".", "\\.").replace("(", "\\(")):
        validate_config(mutate(config, path, value), SCHEMA)


def test_pretrained_hf_model_needs_a_path(config):
    config["models"]["mine"] = {"family": "hf_transformers", "init": "pretrained"}
    with pytest.raises(ConfigError, match="'models.mine.path' is required"):
        validate_config(config, SCHEMA)


def test_yaml_booleans_as_keywords_are_caught(config):
    config["datasets"]["embedded"]["keywords"] = [True, "up"]  # YAML 1.1 reads bare `yes` as true
    with pytest.raises(ConfigError, match="keywords.0"):
        validate_config(config, SCHEMA)
