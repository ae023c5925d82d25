"""Linear CKA on a torch device agrees with numpy.

The torch path runs here on the CPU (same code as on a GPU, other kernels); the GPU test is
skipped without one and runs wherever one is. Tolerance: the Gram blocks are float32 GEMMs
summed in another order, the products float64, so CKA values agree within 1e-5."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from toy_shards import write_model

from strata.similarity import linear, on_device
from strata.similarity.measures import MEASURES, get_measure
from strata.similarity.run import run_similarity

TOLERANCE = 1e-5
NO_GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
DEVICES = ["cpu", pytest.param("cuda", marks=NO_GPU)]


def layers(rng, n, dims, shared):
    """Layers that share a random signal in different amounts, so CKA spans (0, 1)."""
    return [shared @ rng.normal(size=(8, d)) * w + rng.normal(size=(n, d)) for w, d in dims]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("path", ["gram", "features"])
@pytest.mark.parametrize("debiased", [False, True])
def test_torch_products_match_numpy(device, path, debiased):
    rng = np.random.default_rng(0)
    n = linear.BLOCK_ROWS + 300  # more than one Gram block: off-diagonal blocks count twice
    shared = rng.normal(size=(n, 8))
    xs = layers(rng, n, [(2.0, 24), (0.5, 40), (0.0, 16)], shared)
    ys = layers(rng, n, [(1.0, 32), (3.0, 8)], shared)
    a = linear.centre_layers(xs, ["a0", "a1", "a2"])
    b = linear.centre_layers(ys, ["b0", "b1"])
    products = on_device.products(device)
    for other in (b, None):  # a pair of models, and A with itself
        want = linear.linear_cka_matrix(a, other, debiased, path)
        got = linear.linear_cka_matrix(a, other, debiased, path, products=products)
        assert np.ptp(want) > 0.3  # values that differ, so agreement means something
        np.testing.assert_allclose(got, want, atol=TOLERANCE, rtol=0)
    assert device in a.on_device  # uploaded once, kept for the next pairing


@pytest.mark.parametrize("device", DEVICES)
def test_a_job_on_a_device_writes_the_numpy_jobs_table(device, tmp_path, monkeypatch):
    """Controls included: the permutation null and the jackknife re-prepare sides there."""
    rng = np.random.default_rng(1)
    ids = [f"u{i:03d}" for i in range(80)]
    shared = rng.normal(size=(80, 8))
    xs = dict(zip(["l0", "l1"], layers(rng, 80, [(2.0, 12), (0.3, 20)], shared), strict=True))
    ys = dict(zip(["m0", "m1"], layers(rng, 80, [(1.0, 16), (0.0, 8)], shared), strict=True))
    a = write_model(tmp_path / "features", "a", xs, ids)
    b = write_model(tmp_path / "features", "b", ys, ids)
    controls = {"groups": 5, "permutations": 20, "confidence": 0.95, "seed": 0}
    args = (a, b, (list(xs), list(ys)), "linear_cka_debiased", "utterance")
    numpy = run_similarity(*args, tmp_path / "numpy.parquet", controls, device="cpu")
    # the torch path, also on the CPU ("cpu" alone means numpy)
    monkeypatch.setattr("strata.similarity.run.torch_device", lambda name: device)
    on = run_similarity(*args, tmp_path / "on.parquet", controls, device=device)
    assert (numpy.attrs["device"], on.attrs["device"]) == ("cpu", device)
    assert on["p"].min() < 0.1 < on["p"].max()  # a real signal and a null cell
    for column in ("value", "ci_low", "ci_high"):
        np.testing.assert_allclose(on[column], numpy[column], atol=TOLERANCE, rtol=0)
    # p counts null values at least as large: a tie within the tolerance could move one
    assert np.abs(on["p"] - numpy["p"]).max() <= 1 / (controls["permutations"] + 1)


def test_only_measures_that_declare_a_gpu_path_move():
    moved = {name for name in MEASURES if getattr(get_measure(name, "cuda"), "device", None)}
    assert moved == {name for name, m in MEASURES.items() if m.properties.gpu}
    assert moved == {"linear_cka", "linear_cka_debiased"}
    assert get_measure("linear_cka").device is None  # numpy unless a device is given


@pytest.mark.skipif(
    any(Path("/dev").glob("nvidia[0-9]*")) or Path("/dev/kfd").exists(),
    reason="GPU device nodes here: auto asks torch",
)
def test_auto_without_a_gpu_is_numpy_and_does_not_import_torch(tmp_path):
    code = (
        "import sys; from strata.similarity.run import torch_device; "
        "print(torch_device('auto'), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["None", "False"]
    with pytest.raises(RuntimeError, match="no GPU"):
        run_similarity(
            tmp_path,
            tmp_path,
            (["l0"], ["l0"]),
            "linear_cka",
            "utterance",
            tmp_path / "x",
            {"groups": 0, "permutations": 0, "confidence": 0.95, "seed": 0},
            device="cuda",
        )
