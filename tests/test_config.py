"""strata.config: the schema and the cross-field rules, one definition each, errors naming keys."""

import copy
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import transformers
import yaml
from defaults import default_config
from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN

from strata.config import (
    CROSS_FIELD_RULES,
    ConfigError,
    check_schema,
    frame_datasets,
    load_schema,
    validate_config,
)
from strata.corpus.config import ENGINES
from strata.datasets import DATASET_KINDS
from strata.features.shards import LEVELS
from strata.models import ecapa
from strata.models.checkpoints import BRANCHES
from strata.models.frontends import FRONTENDS
from strata.models.hf import ARCHS, UNSUPPORTED_KEYS
from strata.models.registry import FAMILIES
from strata.probes.kinds import TASK_KINDS
from strata.similarity.measures import MEASURES
from strata.training import FAMILY_OF, OBJECTIVES

ROOT = Path(__file__).resolve().parents[1]
DEFS = load_schema()["definitions"]
PROPS = load_schema()["properties"]
_EMBEDDED = yaml.safe_load((ROOT / "config.yaml").read_text())["datasets"]["embedded"]
EMBEDDED_SPEAKERS = _EMBEDDED["speakers"]["count"] + len(_EMBEDDED["voices"])


# The IC and ER stand-ins config.yaml leaves out of the default run (one line each there).
EXTRA_TASKS = {
    "intent": {
        "kind": "classification",
        "dataset": "embedded",
        "label": "intent",
        "split": "speaker_split",
    },
    "style": {"kind": "classification", "dataset": "embedded", "label": "style"},
}


@pytest.fixture
def config():
    """The default config with every task kind's stand-in. Through JSON: config.yaml's
    anchors would share one dict between models (a mutation of one model's architecture would
    change its control's too)."""
    config = default_config(seeds=False)  # one seed per model: the mutations below name them
    config["tasks"] |= copy.deepcopy(EXTRA_TASKS)
    return config


def test_default_config_is_valid(config):
    validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()))
    validate_config(config)


def mutate(config, path, value):
    config = copy.deepcopy(config)
    *parents, last = path
    node = config
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value(node[last]) if callable(value) else value
    return config


DELETE = object()
TRAIN = {"objective": "masked_prediction", "dataset": "embedded", "epochs": 1, "batch_size": 2}


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["probe", "lrr"], 0.1, "'probe.lrr': is not allowed"),
        (["probe", "patience"], 0, "'probe.patience': 0 is less than the minimum"),
        (["tasks", "phones", "probe", "max_epoch"], 3, "'tasks.phones.probe.max_epoch': is not"),
        (["tasks", "phones", "probe", "lrs"], [], "'tasks.phones.probe.lrs'"),
        (["colour"], "blue", "'colour': is not allowed"),
        (["models", "ge2e", "famly"], "x", "'models.ge2e.famly': is not allowed"),
        (["probe", "lrs", 0], "fast", "'probe.lrs.0': 'fast' is not of type 'number'"),
        (["features", "batch_seconds"], -1, "'features.batch_seconds'"),
        (["models", "ge2e", "family"], "nemo", "'models.ge2e.family'"),
        (["datasets", "embedded", "voices", 0, "engine"], "say", "voices.0.engine"),
        (["datasets", "embedded", "sample_rate"], 8000, "embedded.sample_rate"),
        (["datasets", "embedded", "trials_per_speaker"], 7, "trials_per_speaker"),
        (["datasets", "embedded", "splits", "verification_dev_speakers"], -1, "dev_speakers"),
        (["datasets", "embedded", "keywords"], ["Yes"], "keywords.0"),
        (["models", "wavlm_random", "seed"], DELETE, "'models.wavlm_random.seed': is required"),
        (["models", "ge2e", "init"], "random", "'models.ge2e.init'"),
        (["models", "wavlm_random", "random_twin"], {"seed": 1}, "wavlm_random.random_twin"),
        (["similarity", "levels"], ["pooled"], "'similarity.levels.0'"),
        (["similarity", "controls", "confidence"], 1.0, "'similarity.controls.confidence'"),
        (["models", "ge2e", "seed"], 3, "'models.ge2e.seed': is not allowed here"),
        (["models", "ecapa_random", "arch"], "wavlm", "'models.ecapa_random.arch'"),
        (["models", "ecapa_random", "config", "chanels"], [8], "config.chanels': is not allowed"),
        (["models", "wavlm_random", "config", "hidden_size"], 0, "config.hidden_size"),
        (["models", "wavlm_random", "config", "num_hiden_layers"], 2, "num_hiden_layers': is not"),
        (["models", "wavlm_random", "revision"], "main", "'models.wavlm_random.revision'"),
        (["models", "ecapa_random", "frontend"], "mfcc", "'models.ecapa_random.frontend'"),
        (["models", "wavlm_mp", "train", "objective"], "dino", "wavlm_mp.train.objective"),
        (["models", "ecapa_dino", "train", "objective"], "masked_prediction", "train.objective"),
        (["models", "ecapa_aam", "train", "mask"], {"prob": 0.5}, "'models.ecapa_aam.train'"),
        (["models", "ecapa_aam", "train", "epochs"], 0, "'models.ecapa_aam.train.epochs'"),
        (["models", "ecapa_aam", "train"], DELETE, "'models.ecapa_aam.train': is required"),
        (["models", "wavlm_random", "train"], TRAIN, "'models.wavlm_random.train': is not allo"),
        (["models", "ge2e", "init"], "trained", "'models.ge2e.init'"),
        (["models", "wavlm_mp", "path"], "x", "'models.wavlm_mp.path': is not allowed"),
        (["models", "ge2e", "role"], "speaker", "'models.ge2e.role'"),
        (["models", "wavlm_random", "seeds"], [0, 1], "'models.wavlm_random.seeds': is not allo"),
        (["models", "ge2e", "seeds"], [0], "'models.ge2e.seeds': is not allowed here"),
        (["models", "ecapa_aam", "seeds"], [0, 0], "'models.ecapa_aam.seeds'"),
    ],
)
def test_bad_config_names_the_key(config, path, value, message):
    with pytest.raises(ConfigError, match=message.replace(".", "\\.").replace("(", "\\(")):
        validate_config(mutate(config, path, value))


def test_pretrained_hf_model_needs_a_path(config):
    config["models"]["mine"] = {"family": "hf_transformers", "init": "pretrained"}
    with pytest.raises(ConfigError, match="'models.mine.path': is required"):
        validate_config(config)


def test_yaml_booleans_as_keywords_are_caught_with_a_hint(config):
    config["datasets"]["embedded"]["keywords"] = [True, "up"]  # YAML 1.1 reads bare `yes` as true
    with pytest.raises(ConfigError, match="keywords.0.*quote them"):
        validate_config(config)


def test_slice_errors_name_the_whole_key(config):
    corpus = config["datasets"]["embedded"]
    corpus["splits"]["dev_fraction"] = 0.7
    with pytest.raises(ConfigError, match="'datasets.x.splits.dev_fraction'"):
        check_schema(corpus, "embedded_dataset", key="datasets.x")


# --- every cross-field rule fails at parse time naming its key ---


def with_seeds_of(model, seeds):
    """A model configured with ``seeds`` in place of ``seed``."""
    return {k: v for k, v in model.items() if k != "seed"} | {"seeds": seeds}


def seeded_second_iteration(models):
    """wavlm_mp with seed 0 only, and a second iteration on it with seeds 0 and 1."""
    mp2 = with_seeds_of(copy.deepcopy(models["wavlm_mp"]), [0, 1])
    mp2["train"]["targets"] = {"source": "wavlm_mp", "layer": "layer_04"}
    return models | {"wavlm_mp": with_seeds_of(models["wavlm_mp"], [0]), "wavlm_mp2": mp2}


RULE_CASES = {
    "dataset_references": [
        (["tasks", "keyword", "dataset"], "librispeech", "tasks.keyword.dataset"),
        (["similarity", "dataset"], "voxceleb", "similarity.dataset"),
    ],
    "model_references": [
        (["similarity", "pairs"], [["ge2e", "whisper"]], "similarity.pairs.0"),
        (["similarity", "pairs"], [["wavlm_random_twin", "ge2e"]], "similarity.pairs.0"),
        (
            ["models"],
            lambda models: (
                models
                | {
                    "ge2e": models["ge2e"] | {"random_twin": {"seed": 0}},
                    "ge2e_twin": {"family": "resemblyzer", "init": "pretrained"},
                }
            ),
            "models.ge2e.random_twin",
        ),
        (
            ["models"],
            lambda models: (
                models
                | {
                    "ecapa_random": with_seeds_of(models["ecapa_random"], [0, 1]),
                    "ecapa_random_s1": models["ecapa_random"],
                }
            ),
            "models.ecapa_random.seeds",
        ),
        (["similarity", "pairs"], [["ge2e", "wavlm_mp_s0"]], "similarity.pairs.0"),
    ],
    "training_sources": [
        (["models"], seeded_second_iteration, "models.wavlm_mp2.train.targets.source"),
        (["models", "ecapa_aam", "train", "dataset"], "vox", "models.ecapa_aam.train.dataset"),
        (
            ["models", "wavlm_mp", "train", "targets"],
            {"source": "wavlm_mp", "layer": "layer_03"},
            "models.wavlm_mp.train.targets.source",
        ),
        (
            ["models", "wavlm_mp", "train", "targets"],
            {"source": "mfcc", "layer": "layer_03"},
            "models.wavlm_mp.train.targets.layer",
        ),
        (
            ["models", "wavlm_mp", "train", "targets"],
            {"source": "ecapa_dino", "layer": "mfa"},
            "models.wavlm_mp.train.targets.source",
        ),
    ],
    "model_architectures": [
        (
            ["models", "wavlm_random", "config", "num_attention_heads"],
            5,
            "models.wavlm_random.config.num_attention_heads",
        ),
        (
            ["models", "wavlm_random", "config", "conv_stride"],
            [5, 2],
            "models.wavlm_random.config.conv_dim",
        ),
        (
            ["models", "wavlm_random", "config", "num_conv_pos_embedding_groups"],
            7,
            "models.wavlm_random.config.num_conv_pos_embedding_groups",
        ),
        (
            ["models", "ecapa_random", "config", "channels"],
            [256, 256, 768],
            "models.ecapa_random.config.kernel_sizes",
        ),
        (
            ["models", "ecapa_random", "config", "channels"],
            [256, 128, 256, 256, 768],
            "models.ecapa_random.config.channels",
        ),
        (
            ["models", "ecapa_random", "config", "res2net_scale"],
            3,
            "models.ecapa_random.config.res2net_scale",
        ),
        (
            ["models", "ecapa_random", "config", "groups"],
            [1, 3, 1, 1, 1],
            "models.ecapa_random.config.groups",
        ),
    ],
    "embedded_corpora": [
        (
            ["datasets", "embedded", "splits", "verification_speakers"],
            1,
            "datasets.embedded.splits.verification_speakers",
        ),
        (
            ["datasets", "embedded", "splits", "verification_speakers"],
            EMBEDDED_SPEAKERS,  # every speaker (generated + fixed): no closed-set speaker left
            "datasets.embedded.splits.verification_speakers",
        ),
        (
            ["datasets", "embedded", "splits", "verification_dev_speakers"],
            1,  # a lone dev speaker has no other speaker for non-target trials
            "datasets.embedded.splits.verification_dev_speakers",
        ),
        (
            ["datasets", "embedded", "utterances_per_speaker"],
            10,
            "datasets.embedded.utterances_per_speaker",
        ),
        (
            ["datasets", "embedded", "utterances_per_speaker"],
            8,
            "datasets.embedded.utterances_per_speaker",
        ),
        (
            ["datasets", "embedded", "trials_per_speaker"],
            5000,
            "datasets.embedded.trials_per_speaker",
        ),
        (["datasets", "embedded", "keywords"], ["yes", "zorblaxx"], "datasets.embedded.keywords"),
        (
            ["datasets", "embedded", "styles", "slow"],
            {"rate": 0.5, "pitch": 1.2},
            "datasets.embedded.styles.slow",
        ),
        (
            ["datasets", "embedded", "voices"],
            [{"engine": "espeak", "voice": "en-us+m1"}, {"engine": "espeak", "voice": "en_us+m1"}],
            "datasets.embedded.voices",
        ),
    ],
    "frame_readers_need_frames": [
        (["features", "level"], "utterance", "features.level"),
    ],
    "task_labels": [
        (["tasks", "style", "label"], "emotion", "tasks.style.label"),
        (["datasets", "embedded", "keyword_fraction"], 0.0, "tasks.keyword.label"),
        (["tasks", "intent", "split"], "fold", "tasks.intent.split"),
        (["tasks", "speaker_id", "split"], "speaker_split", "tasks.speaker_id.label"),
        (["tasks", "speaker_id", "where"], {"colour": "red"}, "tasks.speaker_id.where"),
        (["tasks", "asv", "where"], {"kind": "story"}, "tasks.asv.where"),
        (["datasets", "embedded", "keyword_fraction"], 1.0, "tasks.speaker_id.where"),
        (["datasets", "embedded", "trials_per_speaker"], 0, "tasks.asv.dataset"),
    ],
}


def test_every_cross_field_rule_has_failing_cases():
    assert sorted(RULE_CASES) == sorted(rule.__name__ for rule in CROSS_FIELD_RULES)


@pytest.mark.parametrize(
    ("path", "value", "key"), [case for cases in RULE_CASES.values() for case in cases]
)
def test_cross_field_rule_fails_naming_its_key(config, path, value, key):
    bad = mutate(config, path, value)
    check_schema(bad)  # each case is schema-valid: only the cross-field rule can catch it
    with pytest.raises(ConfigError) as err:
        validate_config(bad)
    assert err.value.key == key, str(err.value)


def test_manifest_task_label_must_be_a_column_of_the_table(config, tmp_path):
    table = tmp_path / "mine.csv"
    table.write_text("utt_id,path,split,speaker\na,a.wav,train,s1\n")
    config["datasets"]["mine"] = {"kind": "manifest", "path": str(table)}
    config["tasks"]["emotion"] = {"kind": "classification", "dataset": "mine", "label": "emotion"}
    with pytest.raises(ConfigError, match="'tasks.emotion.label'.*not a column of"):
        validate_config(config)
    config["tasks"]["emotion"]["label"] = "speaker"
    validate_config(config)


def test_verification_on_a_manifest_needs_its_trial_list(config, tmp_path):
    table = tmp_path / "mine.csv"
    table.write_text("utt_id,path,split,speaker\na,a.wav,verification,s1\n")
    config["datasets"]["mine"] = {"kind": "manifest", "path": str(table)}
    config["tasks"]["asv_mine"] = {"kind": "verification", "dataset": "mine"}
    with pytest.raises(ConfigError, match="'tasks.asv_mine.dataset'.*no verification trials"):
        validate_config(config)
    config["datasets"]["mine"]["trials"] = str(tmp_path / "trials.csv")
    validate_config(config)


# --- the schema's enums are the package's registries ---


def enum_of(node):
    """A key's registered names (beside them, where a key has it, an import path's pattern)."""
    enums = [node] if "enum" in node else [b for b in node["anyOf"] if "enum" in b]
    return sorted(enums[0]["enum"])


@pytest.mark.parametrize(
    ("schema_enum", "registry"),
    [
        (lambda: DEFS["model"]["properties"]["family"], FAMILIES),
        (lambda: DEFS["model"]["properties"]["arch"], ARCHS),
        (lambda: DEFS["dataset"]["properties"]["kind"], DATASET_KINDS),
        (lambda: DEFS["task"]["properties"]["kind"], TASK_KINDS),
        (lambda: PROPS["similarity"]["properties"]["measures"]["items"], MEASURES),
        (lambda: PROPS["features"]["properties"]["level"], LEVELS),
        (lambda: DEFS["voice"]["properties"]["engine"], ENGINES),
        (lambda: DEFS["model"]["properties"]["frontend"], FRONTENDS),
        (lambda: DEFS["model"]["properties"]["branch"], BRANCHES),
        (lambda: DEFS["train"]["properties"]["objective"], OBJECTIVES),
    ],
    ids=[
        "families",
        "archs",
        "dataset kinds",
        "task kinds",
        "measures",
        "levels",
        "engines",
        "front ends",
        "branches",
        "training objectives",
    ],
)
def test_schema_enum_equals_registry(schema_enum, registry):
    assert enum_of(schema_enum()) == sorted(registry)


@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_each_objective_trains_only_its_family(config, objective):
    for family in ["hf_transformers", "speechbrain_ecapa"]:
        model = config["models"]["wavlm_mp" if family == "hf_transformers" else "ecapa_aam"]
        model["train"] = {k: model["train"][k] for k in ["dataset", "epochs", "batch_size"]}
        model["train"]["objective"] = objective
        if FAMILY_OF[objective] == family:
            check_schema(config)
        else:
            with pytest.raises(ConfigError, match="train.objective"):
                check_schema(config)
        model["train"]["objective"] = next(o for o, f in FAMILY_OF.items() if f == family)


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_hf_config_keys_are_arguments_of_every_arch(arch):
    config_cls = getattr(transformers, ARCHS[arch][0])
    arguments = set(inspect.signature(config_cls.__init__).parameters)
    definition = "whisper_config" if arch == "whisper" else "hf_config"
    allowed = set(DEFS[definition]["properties"]) - UNSUPPORTED_KEYS.get(arch, frozenset())
    assert allowed <= arguments
    assert not UNSUPPORTED_KEYS.get(arch, frozenset()) & arguments


def test_ecapa_config_keys_and_defaults_are_speechbrains():
    signature = inspect.signature(ECAPA_TDNN.__init__).parameters
    arguments = set(signature) - {"self", "input_size", "device", "activation"}
    assert set(DEFS["ecapa_config"]["properties"]) == arguments | {"n_mels"}
    assert set(DEFS["ecapa_config"]["properties"]) == ecapa.ECAPA_KWARGS | {"n_mels"}
    for key, default in ecapa.DEFAULT_LISTS.items():
        assert signature[key].default == default, key
    assert signature["res2net_scale"].default == ecapa.DEFAULT_RES2NET_SCALE


PARSE_TIME = """
import sys, yaml
from strata.config import validate_config
validate_config(yaml.safe_load(open(sys.argv[1])))
heavy = sorted({"torch", "pandas", "transformers", "speechbrain", "resemblyzer"} & set(sys.modules))
assert not heavy, f"config validation imported {heavy}"
"""


def test_validation_imports_nothing_heavy():
    """It runs at Snakefile parse time, in every job of a cluster run."""
    result = subprocess.run(
        [sys.executable, "-c", PARSE_TIME, str(ROOT / "config.yaml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_frame_level_similarity_needs_frame_shards(config):
    tasks = config["tasks"]
    config["tasks"] = {k: v for k, v in tasks.items() if v["kind"] != "phoneme_recognition"}
    config["features"]["level"] = "utterance"
    with pytest.raises(ConfigError, match="'features.level'.*similarity.levels has frame"):
        validate_config(config)
    config["similarity"]["levels"] = ["utterance"]
    validate_config(config)


def test_frames_are_written_only_for_datasets_read_frame_by_frame(config):
    config["datasets"]["other"] = {"kind": "manifest", "path": "x.csv"}
    config["tasks"]["sid_other"] = {"kind": "classification", "dataset": "other", "label": "spk"}
    assert frame_datasets(config) == {"embedded"}  # phones (PR) and frame-level similarity
    kept = {k: t for k, t in config["tasks"].items() if t["kind"] != "phoneme_recognition"}
    config["tasks"] = kept
    assert frame_datasets(config) == {"embedded"}  # similarity still compares frames
    config["similarity"]["levels"] = ["utterance"]
    assert frame_datasets(config) == set()
    config["tasks"]["pr_other"] = {"kind": "phoneme_recognition", "dataset": "other"}
    assert frame_datasets(config) == {"other"}
    config["features"]["level"] = "utterance"
    assert frame_datasets(config) == set()


# --- compatibility: defaults filled, earlier releases' keys named with their replacements ---

PREVIOUS = ROOT / "tests" / "configs" / "previous_release.yaml"


def test_the_previous_release_is_told_what_to_change_then_runs(tmp_path):
    old = yaml.safe_load(PREVIOUS.read_text())
    with pytest.raises(ConfigError) as caught:
        validate_config(copy.deepcopy(old))
    assert caught.value.key == "similarity.controls.bootstrap"
    assert "replaced by similarity.controls.groups" in str(caught.value)
    del old["similarity"]["controls"]["bootstrap"]  # the one change it names
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(old))
    snakemake = Path(sys.executable).parent / "snakemake"
    dry = subprocess.run(
        [str(snakemake), "-n", "-s", str(ROOT / "Snakefile"), "--configfile", str(changed)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert dry.returncode == 0, dry.stdout[-2000:] + dry.stderr[-2000:]
    assert "extract_features" in dry.stdout and "report" in dry.stdout


def test_every_replaced_key_is_named_at_once():
    config = default_config()
    config["probe"]["lr"] = 0.01
    config["tasks"]["phones"].setdefault("probe", {})["lr"] = 0.02
    config["similarity"]["controls"]["bootstrap"] = 100
    with pytest.raises(ConfigError) as caught:
        validate_config(config)
    message = str(caught.value)
    assert caught.value.key == "probe.lr" and "renamed probe.lrs" in message
    assert "'tasks.phones.probe.lr': renamed lrs" in message
    assert "'similarity.controls.bootstrap': replaced by similarity.controls.groups" in message


def test_a_key_left_out_gets_the_schema_default_it_was_written_with():
    """Leaving out every key whose config.yaml value is the schema's default gives the same
    config, hence the same params and no rerun."""
    from strata.docs.committed import schema_defaults
    from strata.schema import load_schema

    full = default_config()
    validate_config(full)
    stripped = default_config()
    removed = []
    for key, default in schema_defaults(load_schema()):
        *parents, name = key.split(".")
        node = stripped
        for part in parents:
            node = node.get(part, {})
        if name in node and node[name] == default:
            del node[name]
            removed.append(key)
    assert "similarity.frames.per_utterance" in removed and "probe.seed" in removed
    validate_config(stripped)
    assert stripped == full
    minimal = default_config()
    for block in ("probe", "report"):
        del minimal[block]
    validate_config(minimal)
    assert minimal["probe"]["lrs"] == [0.001, 0.005, 0.02] and minimal["report"]["title"]


def test_a_snapshot_after_the_last_epoch_is_named(config):
    config["models"]["ecapa_aam"]["train"]["snapshots"] = [0, 4, 13]
    with pytest.raises(ConfigError, match=r"models\.ecapa_aam\.train\.snapshots.*\[13\].*\(12\)"):
        validate_config(config)
