"""Model adapters: every encoder family behind one contract (see :mod:`strata.models.base`)."""

from strata.models.base import Encoder, LayerSpec, ModelFamily
from strata.models.registry import FAMILIES, get_family, layer_specs

__all__ = ["FAMILIES", "Encoder", "LayerSpec", "ModelFamily", "get_family", "layer_specs"]
