"""Probes: frozen-feature downstream models, one per (model, task, layer)."""

from strata._lazy import lazy_exports

_EXPORTS = {
    "TASK_KINDS": "strata.probes.kinds",
    "ClassificationData": "strata.probes.tasks",
    "classification_data": "strata.probes.tasks",
    "predict": "strata.probes.linear",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
