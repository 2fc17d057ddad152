"""The policy adapter: engines train on top of it, never damage it, and caches see every update."""

from __future__ import annotations

import pytest
import torch

from seal_gym.adapt import (
    AdaptRequest,
    BatchedEngine,
    LoraSpec,
    PolicyAdapter,
    Query,
    SequentialEngine,
    TrainSequence,
    TrainSpec,
    weights_version,
)
from seal_gym.adapt.engine_base import target_linear_names
from seal_gym.models import load_model

POLICY = LoraSpec(rank=4, alpha=8)
REQUEST = AdaptRequest(
    sequences=(TrainSequence("Port Varrow\nThe founder was Odila Brenn."), TrainSequence("Q: founder?", " Odila Brenn")),
    queries=(Query("Who founded Port Varrow?", 10), Query("Colour of the houses?", 8)),
    train=TrainSpec(epochs=3, learning_rate=1e-2, seed=4),
    lora=LoraSpec(rank=4, alpha=8),
)


def trained_policy(seed: int = 0) -> tuple[torch.nn.Module, PolicyAdapter]:
    """A fresh tiny model whose policy adapter took a few real optimizer steps (so B != 0)."""
    bundle = load_model("tiny-random", device="cpu")
    adapter = PolicyAdapter(bundle.model, POLICY, seed=seed)
    optimizer = torch.optim.AdamW(adapter.parameters(), lr=1e-2)
    ids = bundle.tokenizer("The policy writes better self-edits now.", return_tensors="pt")["input_ids"]
    for _ in range(3):
        loss = bundle.model(input_ids=ids, labels=ids).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return bundle, adapter


def merged_copy(adapter: PolicyAdapter):
    """A fresh tiny model with the policy's update folded into its weights by hand."""
    fresh = load_model("tiny-random", device="cpu")
    with torch.no_grad():
        for name, layer in adapter.layers.items():
            fresh.model.get_submodule(name).weight.add_(layer.delta_weight())
    return fresh


@pytest.mark.parametrize("engine_class", [SequentialEngine, BatchedEngine])
def test_engine_on_policy_equals_engine_on_merged_model(engine_class):
    bundle, adapter = trained_policy()
    assert all(bool(p.abs().sum() > 0) for p in adapter.parameters()), "every policy parameter must have trained"
    state = adapter.state_dict()
    got = engine_class(bundle.model, bundle.tokenizer).adapt([REQUEST])[0]
    fresh = merged_copy(adapter)
    expected = engine_class(fresh.model, fresh.tokenizer).adapt([REQUEST])[0]
    assert got.losses == pytest.approx(expected.losses, abs=1e-5)
    assert got.answers == expected.answers
    # The policy adapter is intact and still installed, and still trainable.
    assert all(torch.equal(state[k], v) for k, v in adapter.state_dict().items())
    assert PolicyAdapter.of(bundle.model) is adapter and len(adapter.layers) == 14
    assert all(p.requires_grad for p in adapter.parameters())
    assert not any(p.requires_grad for n, p in bundle.model.named_parameters() if "policy_" not in n)


def test_policy_changes_the_inner_loop_result():
    bundle, adapter = trained_policy()
    with_policy = SequentialEngine(bundle.model, bundle.tokenizer).adapt([REQUEST])[0]
    with adapter.disabled():
        reference = SequentialEngine(bundle.model, bundle.tokenizer).adapt([REQUEST])[0]
    plain = load_model("tiny-random", device="cpu")
    untouched = SequentialEngine(plain.model, plain.tokenizer).adapt([REQUEST])[0]
    assert reference.losses == pytest.approx(untouched.losses, abs=1e-6)  # disabled = the reference model
    assert with_policy.losses != pytest.approx(untouched.losses, abs=1e-4)


def test_target_layers_are_found_through_wrappers():
    bundle = load_model("tiny-random", device="cpu")
    spec = LoraSpec()
    plain = target_linear_names(bundle.model, spec)
    PolicyAdapter(bundle.model, LoraSpec(rank=2, target_modules=("q_proj", "v_proj")))
    assert target_linear_names(bundle.model, spec) == plain and len(plain) == 14

    from peft import LoraConfig, get_peft_model  # a user's own peft LoRA on q/v must not hide those layers

    other = load_model("tiny-random", device="cpu")
    get_peft_model(other.model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    assert target_linear_names(other.model, spec) == plain


def test_merge_folds_the_delta_in_and_restore_undoes_it():
    bundle, adapter = trained_policy()
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    before = bundle.model(input_ids=ids).logits
    version = weights_version(bundle.model)
    adapter.merge()
    assert weights_version(bundle.model) != version
    torch.testing.assert_close(bundle.model(input_ids=ids).logits, before, atol=1e-5, rtol=0)
    assert all(float(layer.policy_b.detach().abs().sum()) == 0 for layer in adapter.layers.values())  # fresh adapter
    adapter.restore_pretrained()
    plain = load_model("tiny-random", device="cpu")
    torch.testing.assert_close(bundle.model(input_ids=ids).logits, plain.model(input_ids=ids).logits)


def test_merges_keep_small_deltas_on_a_bf16_base():
    bundle = load_model("tiny-random", device="cpu", dtype=torch.bfloat16)
    adapter = PolicyAdapter(bundle.model, POLICY)
    layer = next(iter(adapter.layers.values()))
    original = layer.base.weight.detach().float().clone()
    naive = layer.base.weight.detach().clone()
    for _ in range(50):
        with torch.no_grad():  # the same tiny delta every time: 4 * 1.0 * 2e-6 * scaling 2 = 1.6e-5 per weight
            layer.policy_a.fill_(1.0)
            layer.policy_b.fill_(2e-6)
        delta = layer.delta_weight().detach()
        naive += delta.to(torch.bfloat16)  # what merging straight into bf16 would do
        adapter.merge()
    expected = 50 * float(delta.mean())
    merged_drift = float((layer.base.weight.float() - original).mean())
    naive_drift = float((naive.float() - original).mean())
    assert merged_drift == pytest.approx(expected, rel=0.1)
    assert naive_drift < 0.5 * expected  # bf16 alone rounds most of these deltas away


def test_weights_version_tracks_updates_not_inner_loop_calls():
    bundle, adapter = trained_policy()
    version = weights_version(bundle.model)
    BatchedEngine(bundle.model, bundle.tokenizer).adapt([REQUEST])
    SequentialEngine(bundle.model, bundle.tokenizer).adapt([REQUEST])
    assert weights_version(bundle.model) == version
    with torch.no_grad():
        adapter.parameters()[1].add_(0.01)
    assert weights_version(bundle.model) != version


def test_save_load_round_trip_and_clear_errors(tmp_path):
    _, adapter = trained_policy()
    path = tmp_path / "policy.safetensors"
    adapter.save(path)
    other_bundle = load_model("tiny-random", device="cpu")
    other = PolicyAdapter(other_bundle.model, POLICY, seed=9)
    other.load(path)
    assert all(torch.equal(a, b) for a, b in zip(adapter.parameters(), other.parameters()))
    with pytest.raises(ValueError, match="already"):
        PolicyAdapter(other_bundle.model, POLICY)
    wrong = load_model("tiny-random", device="cpu")
    with pytest.raises(ValueError, match="does not match"):
        PolicyAdapter(wrong.model, LoraSpec(rank=4, target_modules=("q_proj",))).load(path)


def test_remove_puts_the_original_layers_back():
    bundle = load_model("tiny-random", device="cpu")
    modules = [(n, type(m)) for n, m in bundle.model.named_modules()]
    PolicyAdapter(bundle.model, POLICY).remove()
    assert [(n, type(m)) for n, m in bundle.model.named_modules()] == modules
    assert PolicyAdapter.of(bundle.model) is None
