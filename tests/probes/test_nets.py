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


def test_usage_is_weight_times_projection_norm_normalised():
    net = WeightedSum(np.random.default_rng(0), [4, 4], 3, 2)
    net.params["layer_logits"][:] = [np.log(3.0), 0.0]  # weights 0.75, 0.25
    net.params["projection_0_weight"][:] = 1.0  # ‖A_0‖ = √12
    net.params["projection_1_weight"][:] = 2.0  # ‖A_1‖ = 2√12
    usage = net.usage()
    np.testing.assert_allclose(usage["weights"], [0.75, 0.25])
    np.testing.assert_allclose(usage["usage"], [0.6, 0.4])  # 0.75·1 : 0.25·2
