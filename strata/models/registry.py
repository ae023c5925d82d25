"""Name → model family. Adding a family is one module and one line here; or, without touching
the package, name your own :class:`ModelFamily` subclass by import path in the config
(``family: my_pkg.encoders:MyFamily``; docs/extending.md)."""

from __future__ import annotations

from typing import Any

from strata.models.base import LayerSpec, ModelFamily, check_specs
from strata.plugins import is_import_path, load_object

# Lazy "module:Class" references keep torch out of Snakefile parse time.
FAMILIES: dict[str, str] = {
    "hf_transformers": "strata.models.hf:HFTransformersFamily",
    "speechbrain_ecapa": "strata.models.ecapa:EcapaFamily",
    "resemblyzer": "strata.models.ge2e:ResemblyzerFamily",
    "wespeaker_ecapa": "strata.models.wespeaker:WespeakerFamily",
}


def get_family(name: str) -> ModelFamily:
    """Instantiate the family registered under ``name``, or the class an import path names."""
    if is_import_path(name):
        family = load_object(name, "model family")
        if not (isinstance(family, type) and issubclass(family, ModelFamily)):
            raise TypeError(f"model family {name!r} is not a strata.models.base.ModelFamily class")
        return family()
    try:
        target = FAMILIES[name]
    except KeyError:
        known = ", ".join(sorted(FAMILIES))
        raise KeyError(f"unknown model family {name!r}; known families: {known}") from None
    return load_object(target, f"model family {name!r}")()


def layer_specs(model_cfg: dict[str, Any]) -> list[LayerSpec]:
    """Ordered layers of a configured model (cheap; used to build the DAG)."""
    from strata.models.twins import original

    specs = get_family(model_cfg["family"]).layer_specs(original(model_cfg))
    check_specs(model_cfg["family"], specs)
    return specs
