"""backbone_state: the encoder out of the wrappers real training recipes save."""

import pytest
import torch

from strata.models.checkpoints import backbone_state, load_exact

W = {"blocks.0.w": torch.ones(2), "fc.w": torch.zeros(1)}


def scaled(state, factor):
    return {k: v * factor for k, v in state.items()}


@pytest.mark.parametrize(
    ("saved", "branch", "expected"),
    [
        (W, None, W),  # a bare state dict
        ({f"module.{k}": v for k, v in W.items()}, None, W),  # DDP
        (
            {
                "model": {
                    **{f"t_model.{k}": v for k, v in W.items()},
                    **{f"s_model.{k}": v for k, v in scaled(W, 2).items()},
                    "t_model.projection_head.w": torch.ones(3),
                }
            },
            "student",
            scaled(W, 2),
        ),
        (
            {
                "teacher": {
                    **{f"module.backbone.{k}": v for k, v in W.items()},
                    "module.head.mlp.w": torch.ones(3),
                },
                "student": {},
                "epoch": 3,
            },
            "teacher",
            W,
        ),  # 3D-Speaker RDINO
        ({**W, "projection.weight": torch.ones(5)}, None, W),  # a classifier head
    ],
    ids=["bare", "ddp", "wespeaker-dino-student", "3dspeaker-rdino", "classifier-head"],
)
def test_backbone_state_unwraps_and_drops_heads(saved, branch, expected):
    state = backbone_state(saved, branch)
    assert sorted(state) == sorted(expected)
    for key in expected:
        assert torch.equal(state[key], expected[key]), key


@pytest.mark.parametrize("branch", ["student", "teacher"])
def test_a_branch_named_for_a_checkpoint_without_branches_is_an_error(branch, tmp_path):
    with pytest.raises(ValueError, match=rf"{tmp_path}/w.pt: branch: {branch} is for DINO"):
        backbone_state(
            {"model": {f"module.{k}": v for k, v in W.items()}}, branch, tmp_path / "w.pt"
        )


def test_load_exact_lists_missing_unexpected_and_shapes(tmp_path):
    module = torch.nn.Linear(3, 2)
    with pytest.raises(ValueError) as err:
        load_exact(module, {"weight": torch.zeros(2, 4), "extra": torch.zeros(1)}, tmp_path / "x")
    message = str(err.value)
    assert "missing (1): ['bias']" in message and "unexpected (1): ['extra']" in message
    assert "weight: checkpoint (2, 4) vs model (2, 3)" in message
    load_exact(module, {"weight": torch.ones(2, 3), "bias": torch.ones(2)}, tmp_path / "x")
    assert torch.equal(module.weight, torch.ones(2, 3))
