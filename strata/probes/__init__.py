"""Probes: frozen-feature downstream models, one per (model, task, layer)."""

from strata.probes.linear import ProbeResult, train_linear_probe
from strata.probes.tasks import TASK_KINDS, ClassificationData, classification_data

__all__ = [
    "TASK_KINDS",
    "ClassificationData",
    "ProbeResult",
    "classification_data",
    "train_linear_probe",
]
