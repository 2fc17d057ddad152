"""studies/rest_em_stability.py's ablation ``merge-keep-a``: a merge that keeps the adapter's A and restarts only B."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "studies"))

import rest_em_stability  # noqa: E402
from seal_gym.adapt import LoraSpec  # noqa: E402
from seal_gym.adapt.policy_adapter import PolicyAdapter  # noqa: E402
from seal_gym.models import load_model  # noqa: E402


def first_a_b(adapter: PolicyAdapter) -> tuple[torch.Tensor, torch.Tensor]:
    layer = next(iter(adapter.layers.values()))
    return layer.policy_a.detach().clone(), layer.policy_b.detach().clone()


def trained(adapter: PolicyAdapter) -> None:
    with torch.no_grad():
        for layer in adapter.layers.values():
            layer.policy_b.fill_(0.01)


def test_kept_a_keeps_a_through_a_merge_and_a_plain_merge_draws_a_new_one():
    fresh = PolicyAdapter._reset_lora
    with rest_em_stability.kept_a():
        adapter = PolicyAdapter(load_model("tiny-random").model, LoraSpec(rank=4, alpha=8.0), seed=0)
        a0, b0 = first_a_b(adapter)
        assert a0.abs().sum() > 0 and b0.abs().sum() == 0  # the first A is drawn as always
        trained(adapter)
        adapter.merge()
        a1, b1 = first_a_b(adapter)
    assert torch.equal(a1, a0) and b1.abs().sum() == 0 and adapter.merges == 1
    assert PolicyAdapter._reset_lora is fresh  # the library is as it was after the block
    trained(adapter)
    adapter.merge()
    a2, b2 = first_a_b(adapter)
    assert not torch.equal(a2, a1) and b2.abs().sum() == 0
