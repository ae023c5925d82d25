"""The numpy probes' hand-written gradients and AdamW step against torch's autograd and
torch.optim.AdamW (an independent implementation)."""

import numpy as np
import pytest
import torch

from strata.probes.nets import AdamW, Linear, Projection, WeightedSum, cross_entropy_grad

RNG = np.random.default_rng(0)
N, CLASSES = 7, 4


def batch(*dims):
    return [RNG.standard_normal((N, d)).astype(np.float32) for d in dims]


def nets():
    return [
        (Linear(np.random.default_rng(1), 5, CLASSES), batch(5)),
        (Projection(np.random.default_rng(2), 5, 3, CLASSES), batch(5)),
        (WeightedSum(np.random.default_rng(3), [5, 2, 6], 3, CLASSES), batch(5, 2, 6)),
    ]


def torch_forward(net, params, xs):
    """The same nets written with torch ops, from their documented formulas."""
    xs = [torch.from_numpy(x) for x in xs]
    if isinstance(net, Linear):
        h = xs[0]
    elif isinstance(net, Projection):
        h = xs[0] @ params["projection_weight"].T + params["projection_bias"]
    else:
        alpha = params["layer_logits"].softmax(0)
        h = sum(
            alpha[i] * (x @ params[f"projection_{i}_weight"].T + params[f"projection_{i}_bias"])
            for i, x in enumerate(xs)
        )
    return h @ params["weight"].T + params["bias"]


@pytest.mark.parametrize("index", range(3), ids=["linear", "projection", "weighted_sum"])
def test_gradients_equal_autograd(index):
    net, xs = nets()[index]
    if isinstance(net, WeightedSum):
        net.params["layer_logits"][:] = [0.3, -0.2, 0.5]  # off the symmetric start
    y = RNG.integers(0, CLASSES, N)
    logits = net.forward(xs)
    grads = net.backward(cross_entropy_grad(logits, y))
    params = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    reference = torch_forward(net, params, xs)
    np.testing.assert_allclose(logits, reference.detach().numpy(), rtol=1e-5, atol=1e-6)
    torch.nn.functional.cross_entropy(reference, torch.from_numpy(y)).backward()
    assert set(grads) == set(params)
    for name, p in params.items():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)


def test_adamw_steps_equal_torch():
    start = {"w": RNG.standard_normal((3, 2)).astype(np.float32)}
    ours = AdamW({"w": start["w"].copy()}, lr=0.05, weight_decay=0.01)
    w = torch.tensor(start["w"], requires_grad=True)
    theirs = torch.optim.AdamW([w], lr=0.05, weight_decay=0.01)
    for _ in range(5):
        g = RNG.standard_normal((3, 2)).astype(np.float32)
        ours.step({"w": g})
        w.grad = torch.from_numpy(g)
        theirs.step()
    np.testing.assert_allclose(ours.params["w"], w.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_measured_usage_is_each_layers_share_on_correlated_data():
    # Layer 1's standardised dimensions are strongly correlated: w·‖A‖ misreads its share.
    rng = np.random.default_rng(0)
    n, d = 200_000, 4
    cov = np.full((d, d), 0.9) + 0.1 * np.eye(d)
    x0 = rng.standard_normal((n, d))
    x1 = rng.multivariate_normal(np.zeros(d), cov, size=n)
    net = WeightedSum(np.random.default_rng(0), [d, d], 3, 2)
    net.params["layer_logits"][:] = [0.0, np.log(2.0)]  # weights 1/3, 2/3
    a0 = rng.standard_normal((3, d)).astype(np.float32)
    a1 = np.outer([1.0, -1.0, 0.5], [1.0, 1.0, 1.0, 1.0]).astype(np.float32)
    net.params["projection_0_weight"][:], net.params["projection_1_weight"][:] = a0, a1
    usage = net.usage([x0, x1])
    # Truth from the population covariances: ‖w A X‖_F / √n → w √tr(A Σ Aᵀ).
    a0, a1 = a0.astype(float), a1.astype(float)
    true = np.array([np.sqrt(np.trace(a0 @ a0.T)) / 3, 2 * np.sqrt(np.trace(a1 @ cov @ a1.T)) / 3])
    np.testing.assert_allclose(usage["usage"], true / true.sum(), atol=3e-3)
    np.testing.assert_allclose(usage["weights"], [1 / 3, 2 / 3], rtol=1e-6)
    naive = np.array([np.linalg.norm(a0) / 3, 2 * np.linalg.norm(a1) / 3])
    np.testing.assert_allclose(usage["weight_norm_usage"], naive / naive.sum(), rtol=1e-5)
    assert abs(usage["weight_norm_usage"][1] - usage["usage"][1]) > 0.05  # they differ here


def test_lr_decay_multiplies_the_rate_after_each_epoch_that_is_not_the_best(monkeypatch):
    """The plateau schedule: the rate an epoch trains at is the previous one's, times
    lr_decay when the previous epoch's dev score was not the best so far."""
    from strata.probes import nets

    rates: list[float] = []

    class Recording(nets.AdamW):
        def step(self, grads, eps=1e-8):
            rates.append(self.lr)
            super().step(grads, eps)

    monkeypatch.setattr(nets, "AdamW", Recording)
    rng = np.random.default_rng(0)
    x = {s: [rng.normal(size=(64, 4))] for s in ("train", "dev")}
    y = {s: rng.integers(0, 3, 64) for s in ("train", "dev")}  # noise: dev stalls early
    cfg = {"weight_decay": 0.0, "batch_size": 64, "max_epochs": 12, "patience": 12,
           "seed": 0, "lr_decay": 0.5}  # fmt: skip
    fit = nets.train(Linear(np.random.default_rng(1), 4, 3), x, y, cfg, lr=0.1)
    assert len(rates) == fit.epochs_run == 12  # one step an epoch
    halvings = [round(np.log2(rates[0] / r)) for r in rates]
    assert halvings[-1] >= 1, "a noise task has epochs that are not the best"
    assert all(b - a in (0, 1) for a, b in zip(halvings, halvings[1:], strict=False))
    assert np.allclose(rates, [0.1 * 0.5**h for h in halvings])
