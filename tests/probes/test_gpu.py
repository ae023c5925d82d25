"""The CTC probe on a GPU agrees with the CPU (skipped without one; run wherever one is).

Tolerance: CUDA's CTC backward and matmuls differ from the CPU's in the last bits, so the
trained heads drift apart a little; the error rates stay within 0.02 of each other."""

import pytest
import torch
from test_phonemes import PROBE, synthetic_phones

from strata.probes.phonemes import fit_phonemes
from strata.workflow import resolve_device

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")


@needs_gpu
def test_gpu_and_cpu_probes_agree(tmp_path):
    path, manifest, _ = synthetic_phones(tmp_path, n=90)
    task = {"kind": "phoneme_recognition"}
    cpu = fit_phonemes(path, manifest, task, PROBE | {"device": "cpu"})
    gpu = fit_phonemes(path, manifest, task, PROBE | {"device": "cuda"})
    for split in ("train", "dev", "test"):
        assert abs(cpu.scores[split] - gpu.scores[split]) <= 0.02, split
    assert gpu.state["head.weight"].device.type == "cpu"  # saved from the CPU


def test_auto_is_the_cpu_without_a_gpu_and_cuda_without_one_is_an_error():
    if torch.cuda.is_available():
        assert resolve_device("auto").type == "cuda"
        return
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(RuntimeError, match="no GPU"):
        resolve_device("cuda")
