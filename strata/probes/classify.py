"""Classification probes (SID, KS, IC, ER): a linear classifier per learning rate, chosen on dev,
scored on test with a bootstrap interval over test utterances."""

from __future__ import annotations

from typing import Any

import numpy as np

from strata.probes.linear import best_lr, logits, train_linear_probe
from strata.probes.metrics import ProbeOutcome, accuracy, bootstrap
from strata.probes.tasks import SPLITS, Columns, classification_data


def fit_classification(
    x: np.ndarray, ids: list[str], manifest: Columns, task: dict[str, Any], probe: dict
) -> ProbeOutcome:
    data = classification_data(manifest, ids, x, task)
    fits = {lr: train_linear_probe(data, probe, lr) for lr in probe["lrs"]}
    lr = best_lr({lr: fit.accuracy["dev"] for lr, fit in fits.items()}, higher_is_better=True)
    result = fits[lr]
    correct = logits(result.state, data.x["test"]).argmax(1) == data.y["test"]
    test = bootstrap(
        accuracy(correct), len(correct), probe["bootstrap"], probe["confidence"], probe["seed"]
    )
    return ProbeOutcome(
        metric="accuracy",
        test=test,
        # The best constant guess on test: what a probe that learned nothing can score.
        chance=float(np.bincount(data.y["test"]).max() / len(data.y["test"])),
        higher_is_better=True,
        scores=dict(result.accuracy),
        lr=lr,
        dev_by_lr={str(k): fit.accuracy["dev"] for k, fit in fits.items()},
        n={split: len(data.y[split]) for split in SPLITS},
        extra={
            "num_classes": len(data.classes),
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
        },
        state=result.state,
    )
