"""Training seeds: ``seeds: [0, 1, 2]`` on a random-init or trained model configures one model
per seed, ``<name>_s<seed>``, each exactly the model ``seed: <seed>`` would configure (so a
checkpoint trained under one seed is the same model either way).

:func:`expand_models` is the one expansion of ``config["models"]``: seeds first, then random
twins (``random_twin`` carries to every member: ``wavlm_mp_s1_twin``). Similarity pairs and a
second masked-prediction iteration's source may name a seeded model by its configured name;
:func:`pair_members` and :func:`seed_member` resolve them seed by seed; :func:`member_roles`
gives each member its model's ``role``. Light (parse time).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strata.models.series import with_series
from strata.models.twins import with_twins
from strata.schema import ConfigError

Models = Mapping[str, Mapping[str, Any]]


def member_name(name: str, seed: int) -> str:
    return f"{name}_s{seed}"


def with_seeds(models: Models) -> dict[str, dict[str, Any]]:
    """The configured models with each seeded one replaced by its members, in seed order; a
    member's slice is its model's with ``seed: <seed>`` where ``seeds`` was. A member named
    like a configured model is a ConfigError."""
    out: dict[str, dict[str, Any]] = {}
    for name, cfg in models.items():
        if "seeds" not in cfg:
            out[name] = dict(cfg)
            continue
        for seed in cfg["seeds"]:
            member = member_name(name, seed)
            if member in models:
                raise ConfigError(f"models.{name}.seeds", f"{member!r} is taken")
            # Key order kept too: the slice is the single-seed config's to the letter.
            out[member] = {
                ("seed" if k == "seeds" else k): (seed if k == "seeds" else v)
                for k, v in cfg.items()
            }
    return out


def expand_models(models: Models) -> dict[str, dict[str, Any]]:
    """Every model the DAG builds: the configured ones, seeds expanded, then series
    (:mod:`strata.models.series`), each with its twin."""
    return with_twins(with_series(with_seeds(models)))


def families(models: Models) -> dict[str, list[str]]:
    """Configured name → the models it expands into (an unseeded model: itself; no twins)."""
    return {
        name: [member_name(name, s) for s in cfg["seeds"]] if "seeds" in cfg else [name]
        for name, cfg in models.items()
    }


def seed_member(name: str, seed: int, expanded: Models) -> str:
    """The model ``name`` stands for beside a member of seed ``seed``: itself where
    ``expanded`` has it (an unseeded model, or a member named directly), else its member of
    that seed; a KeyError where there is none."""
    if name in expanded:
        return name
    member = member_name(name, seed)
    if member not in expanded:
        raise KeyError(member)
    return member


def pair_members(a: str, b: str, models: Models) -> list[tuple[str, str]]:
    """A similarity pair as one pair per seed where it names seeded models (``models`` as
    configured): same-seed members when both sides are seeded (a ValueError unless they have
    the same seeds), else each member with the other side."""
    seeds_a, seeds_b = (models.get(m, {}).get("seeds") for m in (a, b))
    if seeds_a and seeds_b:
        if set(seeds_a) != set(seeds_b):
            raise ValueError(f"{a} has seeds {seeds_a}, {b} has {seeds_b}: pair the same seeds")
        return [(member_name(a, s), member_name(b, s)) for s in seeds_a]
    if seeds_a:
        return [(member_name(a, s), b) for s in seeds_a]
    if seeds_b:
        return [(a, member_name(b, s)) for s in seeds_b]
    return [(a, b)]


def member_roles(models: Models) -> dict[str, str]:
    """The configured ``role`` of each model that has one, given to each of its seed members."""
    members = families(models)
    return {m: cfg["role"] for name, cfg in models.items() if "role" in cfg for m in members[name]}
