"""Linear probes on pooled vectors, in numpy with hand-written gradients, trained by AdamW.

Why not torch: a probe job trains a few thousand parameters for a second or two, and importing
torch alone costs about two seconds per job, which was most of the probe stage. These nets are
linear, so each gradient is a few lines; a test holds them equal to torch's autograd. (Phoneme
recognition needs CTC and stays in torch.)

A net maps a list of layers (arrays (n, D_l), standardised) to class logits:

- :class:`Linear`: one layer, W x + b;
- :class:`Projection`: one layer, a linear map to a narrower space, then W · + b (its
  ``embed`` is the space verification scores in);
- :class:`WeightedSum`: Σ_l softmax(w)_l (A_l x_l + a_l), then W · + b (SUPERB's weighted sum).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Arrays = dict[str, np.ndarray]


def _init(rng: np.random.Generator, fan_out: int, fan_in: int) -> tuple[np.ndarray, np.ndarray]:
    """torch.nn.Linear's default initialisation: U(±1/√fan_in) for weight and bias."""
    bound = 1 / np.sqrt(fan_in)
    weight = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
    return weight, rng.uniform(-bound, bound, fan_out).astype(np.float32)


class Net:
    """Parameters by name; ``forward`` caches what ``backward`` needs (one batch at a time)."""

    params: Arrays

    def forward(self, xs: Sequence[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> Arrays:
        raise NotImplementedError


class Linear(Net):
    def __init__(self, rng: np.random.Generator, dim: int, classes: int):
        weight, bias = _init(rng, classes, dim)
        self.params = {"weight": weight, "bias": bias}

    def forward(self, xs):
        (self._x,) = xs
        return self._x @ self.params["weight"].T + self.params["bias"]

    def backward(self, grad):
        return {"weight": grad.T @ self._x, "bias": grad.sum(0)}


class Projection(Net):
    def __init__(self, rng: np.random.Generator, dim: int, width: int, classes: int):
        projection_weight, projection_bias = _init(rng, width, dim)
        weight, bias = _init(rng, classes, width)
        self.params = {
            "projection_weight": projection_weight,
            "projection_bias": projection_bias,
            "weight": weight,
            "bias": bias,
        }

    def embed(self, xs: Sequence[np.ndarray]) -> np.ndarray:
        return xs[0] @ self.params["projection_weight"].T + self.params["projection_bias"]

    def forward(self, xs):
        self._x, self._h = xs[0], self.embed(xs)
        return self._h @ self.params["weight"].T + self.params["bias"]

    def backward(self, grad):
        hidden = grad @ self.params["weight"]
        return {
            "projection_weight": hidden.T @ self._x,
            "projection_bias": hidden.sum(0),
            "weight": grad.T @ self._h,
            "bias": grad.sum(0),
        }


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class WeightedSum(Net):
    def __init__(self, rng: np.random.Generator, dims: Sequence[int], width: int, classes: int):
        self.params = {"layer_logits": np.zeros(len(dims), np.float32)}
        for i, dim in enumerate(dims):
            self.params[f"projection_{i}_weight"], self.params[f"projection_{i}_bias"] = _init(
                rng, width, dim
            )
        self.params["weight"], self.params["bias"] = _init(rng, classes, width)
        self.layers = len(dims)

    def _projected(self, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        p = self.params
        return [
            x @ p[f"projection_{i}_weight"].T + p[f"projection_{i}_bias"] for i, x in enumerate(xs)
        ]

    def embed(self, xs: Sequence[np.ndarray]) -> np.ndarray:
        alpha = softmax(self.params["layer_logits"])
        return sum(a * z for a, z in zip(alpha, self._projected(xs), strict=True))

    def forward(self, xs):
        self._xs, self._z = xs, self._projected(xs)
        self._alpha = softmax(self.params["layer_logits"])
        self._s = sum(a * z for a, z in zip(self._alpha, self._z, strict=True))
        return self._s @ self.params["weight"].T + self.params["bias"]

    def backward(self, grad):
        summed = grad @ self.params["weight"]
        grads = {"weight": grad.T @ self._s, "bias": grad.sum(0)}
        d_alpha = np.array([(summed * z).sum() for z in self._z], np.float32)
        grads["layer_logits"] = self._alpha * (d_alpha - self._alpha @ d_alpha)
        for i, (a, x) in enumerate(zip(self._alpha, self._xs, strict=True)):
            grads[f"projection_{i}_weight"] = a * (summed.T @ x)
            grads[f"projection_{i}_bias"] = a * summed.sum(0)
        return grads

    def usage(self, xs: Sequence[np.ndarray]) -> dict[str, list[float]]:
        """Layer usage on the rows ``xs`` (dev): :func:`usage_record` of each layer's term
        w_l A_l x_l (the bias is a constant, not information the layer carries)."""
        weights = softmax(self.params["layer_logits"].astype(np.float64))
        a = [self.params[f"projection_{i}_weight"].astype(np.float64) for i in range(self.layers)]
        term_norms = [w * np.linalg.norm(x @ m.T) for w, x, m in zip(weights, xs, a, strict=True)]
        return usage_record(weights, [np.linalg.norm(m) for m in a], term_norms)


def usage_record(weights, projection_norms, term_norms) -> dict[str, list[float]]:
    """The weighted sum's layer usage, three ways: softmax ``weights``; ``weight_norm_usage``,
    w_l·‖A_l‖_F normalised; and ``usage``, each layer's measured share ‖w_l A_l X_l‖_F of the
    summed terms' norms on the data (what the report plots)."""
    weights, norms = np.asarray(weights, np.float64), np.asarray(projection_norms, np.float64)
    terms = np.asarray(term_norms, np.float64)
    product = weights * norms
    return {
        "weights": weights.tolist(),
        "projection_norms": norms.tolist(),
        "weight_norm_usage": (product / product.sum()).tolist(),
        "usage": (terms / terms.sum()).tolist(),
    }


def cross_entropy_grad(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d(mean cross-entropy)/d(logits)."""
    grad = softmax(logits)
    grad[np.arange(len(y)), y] -= 1
    return grad / len(y)


class AdamW:
    """torch.optim.AdamW's update (decoupled weight decay, bias-corrected moments), on numpy
    arrays or on torch tensors (``param.data``, their grads passed in): torch.optim's own
    optimisers import torch._dynamo on first use, seconds per job."""

    def __init__(self, params: Arrays, lr: float, weight_decay: float, betas=(0.9, 0.999)):
        self.params, self.lr, self.weight_decay, self.betas = params, lr, weight_decay, betas
        self.m = {k: v * 0 for k, v in params.items()}
        self.v = {k: v * 0 for k, v in params.items()}
        self.t = 0

    def step(self, grads: Arrays, eps: float = 1e-8) -> None:
        self.t += 1
        b1, b2 = self.betas
        for k, p in self.params.items():
            g = grads[k]
            p *= 1 - self.lr * self.weight_decay
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
            m_hat = self.m[k] / (1 - b1**self.t)
            v_hat = self.v[k] / (1 - b2**self.t)
            p -= self.lr * m_hat / (v_hat**0.5 + eps)


@dataclass
class Fit:
    accuracy: dict[str, float]
    best_epoch: int
    epochs_run: int


def at_cap(best_epoch: int, epochs_run: int, max_epochs: int) -> bool:
    """A probe stopped by its epoch cap while still improving (best dev epoch in the last two):
    its score measures the budget, not the layer."""
    return epochs_run >= max_epochs and best_epoch >= max_epochs - 1


def accuracy_of(net: Net, xs: Sequence[np.ndarray], y: np.ndarray) -> float:
    return float((net.forward(xs).argmax(1) == y).mean()) if len(y) else float("nan")


def _dev_score(net: Net, xs: Sequence[np.ndarray], y: np.ndarray) -> tuple[float, float]:
    """(accuracy, -cross-entropy): accuracy saturates on easy tasks, and then the first epoch
    to reach it would be kept with its boundary still brushing the classes."""
    logits = net.forward(xs)
    log_p = logits - logits.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    return float((logits.argmax(1) == y).mean()), float(log_p[np.arange(len(y)), y].mean())


# On separable classes the dev loss keeps creeping down long after accuracy has settled: a
# gain under a thousandth of a nat is convergence, not progress worth another patience window.
MIN_LOSS_GAIN = 1e-3


def train(
    net: Net,
    xs: dict[str, list[np.ndarray]],
    y: dict[str, np.ndarray],
    cfg: dict,
    lr: float,
) -> Fit:
    """Minibatch AdamW at ``lr`` on the train split; keeps the parameters of the epoch with the
    best dev accuracy (ties: dev loss lower by more than :data:`MIN_LOSS_GAIN`), stopping
    ``patience`` epochs after it; the rate is multiplied by ``lr_decay`` (default 1) after each
    epoch that is not the best. Deterministic given ``cfg``: weight_decay, batch_size,
    max_epochs, patience, seed."""
    rng = np.random.default_rng(cfg["seed"])
    opt = AdamW(net.params, lr, cfg["weight_decay"])
    n, size = len(y["train"]), cfg["batch_size"]
    best, best_epoch, best_params, epoch = (-1.0, -np.inf), 0, None, 0
    for epoch in range(1, cfg["max_epochs"] + 1):
        order = rng.permutation(n)
        for start in range(0, n, size):
            batch = order[start : start + size]
            logits = net.forward([x[batch] for x in xs["train"]])
            opt.step(net.backward(cross_entropy_grad(logits, y["train"][batch])))
        dev = _dev_score(net, xs["dev"], y["dev"])
        if dev[0] > best[0] or (dev[0] == best[0] and dev[1] > best[1] + MIN_LOSS_GAIN):
            best, best_epoch = dev, epoch
            best_params = {k: v.copy() for k, v in net.params.items()}
        elif epoch - best_epoch >= cfg["patience"]:
            break
        else:
            opt.lr *= cfg.get("lr_decay", 1.0)
    for k, v in best_params.items():
        net.params[k][...] = v
    return Fit({s: accuracy_of(net, xs[s], y[s]) for s in xs}, best_epoch, epoch)
