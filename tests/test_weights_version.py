"""The explicit weights version: every update path named in seal_gym.adapt.versions bumps it, with the names
of the parameters it changed, and the safety net sees direct updates of the policy adapter's parameters."""

from __future__ import annotations

import pytest
import torch

from seal_gym.adapt import LoraSpec, PolicyAdapter, weights_version
from seal_gym.adapt.persistent import PersistentUpdates
from seal_gym.adapt.versions import LOG_ENTRIES, bump_weights_version, changes_since
from seal_gym.models import load_model


@pytest.fixture
def bundle():
    return load_model("tiny-random", device="cpu")  # fresh: every test changes the model in place


def bumped(model, update) -> frozenset[str] | None:
    """Run ``update`` and return what the version says it changed (it must have bumped)."""
    before = weights_version(model)
    update()
    assert weights_version(model) > before, "the update did not bump the weights version"
    return changes_since(model, before)


def test_every_policy_adapter_path_bumps_with_what_it_changed(bundle):
    model = bundle.model
    adapter = None

    def install():
        nonlocal adapter
        adapter = PolicyAdapter(model, LoraSpec(rank=2, alpha=4))

    assert bumped(model, install) is None  # parameters came: a replica cannot be patched, only rebuilt
    policy = set(adapter._named_parameters())
    bases = {f"{name}.base.weight" for name in adapter.layers}
    assert policy <= {n for n, _ in model.named_parameters()}

    def step():
        with torch.no_grad():
            adapter.parameters()[1].add_(0.01)
        adapter.updated()

    assert bumped(model, step) == policy
    assert bumped(model, lambda: adapter.load_state_dict(adapter.state_dict())) == policy
    assert bumped(model, adapter.merge) == policy | bases
    assert bumped(model, adapter.restore_pretrained) == policy | bases

    def reference():
        with adapter.disabled():
            assert changes_since(model, version) == frozenset()  # computes something else, no parameter moved
    version = weights_version(model)
    assert bumped(model, reference) == frozenset()
    assert weights_version(model) > version + 1  # once in, once out
    assert bumped(model, adapter.remove) is None


def test_direct_updates_of_the_policy_are_seen_without_updated(bundle):
    """The safety net: an optimizer that never calls updated() still moves the version, naming what it moved."""
    adapter = PolicyAdapter(bundle.model, LoraSpec(rank=2, alpha=4))
    optimizer = torch.optim.SGD(adapter.parameters(), lr=0.1)
    ids = torch.tensor([[3, 4, 5, 6]])

    def optimizer_step():
        bundle.model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()

    assert bumped(bundle.model, optimizer_step) == set(adapter._named_parameters())
    version = weights_version(bundle.model)
    assert weights_version(bundle.model) == version  # reading does not bump by itself


def test_persistent_updates_bump_merge_base_weights_and_restore(bundle):
    model = bundle.model
    name = "model.layers.0.self_attn.q_proj"
    weight = model.get_submodule(name).weight
    tensors = {f"{name}.lora_A": torch.ones(2, weight.shape[1]), f"{name}.lora_B": torch.full((weight.shape[0], 2), 1e-3)}
    updates = PersistentUpdates(model, bundle.tokenizer)
    assert bumped(model, lambda: updates.merge(tensors, 1.0)) == {f"{name}.weight"}

    def base():
        with updates.base_weights():
            pass
    assert bumped(model, base) == {f"{name}.weight"}
    assert bumped(model, updates.restore) == {f"{name}.weight"}


def test_changes_since_is_unknown_beyond_the_log():
    model = torch.nn.Linear(2, 2)
    start = weights_version(model)
    for _ in range(LOG_ENTRIES + 1):
        bump_weights_version(model, ["weight"])
    assert changes_since(model, start) is None  # too far behind: the reader must resend everything
    assert changes_since(model, start + 1) == {"weight"}


def test_an_agents_gradient_step_bumps_explicitly(bundle):
    """The training loop's one optimizer step says so itself (the safety net is not what moves the version)."""
    from seal_gym.agents.base import gradient_step
    from seal_gym.agents.policy import LMPolicy, SamplingConfig

    policy = LMPolicy(bundle, SamplingConfig(max_new_tokens=4), seed=0)
    completion = policy.encode("Say something.", "Something.")
    optimizer = torch.optim.SGD(policy.parameters(), lr=0.1)
    version = weights_version(bundle.model)
    calls = []
    updated = policy.adapter.updated
    policy.adapter.updated = lambda: (calls.append(1), updated())[1]
    gradient_step(policy, optimizer, [completion], lambda scores, part: -(scores.logprobs * scores.mask).sum(), 1, 1.0)
    assert calls == [1] and weights_version(bundle.model) > version
