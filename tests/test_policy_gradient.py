"""GRPO/PPO arithmetic against hand-computed values, and every agent on the known-reward testbed."""

from __future__ import annotations

import json
import math
import string
import tempfile
from pathlib import Path

import pytest
import torch

from seal_gym.agents import AGENTS, GRPOConfig, LMPolicy
from seal_gym.agents.presets import TESTBED_AGENTS, testbed_policy
from seal_gym.agents.losses import aggregate, clipped_surrogate, group_advantages, k3_kl
from seal_gym.testing import TargetCharEnv

REWARDS = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.5, 0.5, 0.5, 0.5]])
STD = math.sqrt(1 / 3)  # unbiased std of (1, 0, 0, 1): sqrt(4 * 0.25 / 3)


def test_group_advantages_by_hand():
    assert group_advantages(REWARDS, scale=False).tolist() == [[0.5, -0.5, -0.5, 0.5], [0.0] * 4]
    scaled = group_advantages(REWARDS, scale=True, eps=0.0)[0]
    assert scaled.tolist() == pytest.approx([0.5 / STD, -0.5 / STD, -0.5 / STD, 0.5 / STD])
    assert group_advantages(REWARDS, scale=True)[1].tolist() == [0.0] * 4  # zero variance: zero, not NaN
    # RLOO: 1 - mean(0, 0, 1) = 2/3; 0 - mean(1, 0, 1) = -2/3.
    loo = group_advantages(REWARDS, scale=False, leave_one_out=True)[0]
    assert loo.tolist() == pytest.approx([2 / 3, -2 / 3, -2 / 3, 2 / 3])


def test_clipped_surrogate_by_hand():
    old = torch.zeros(2, 2)
    new = torch.log(torch.tensor([[1.5, 0.5], [1.1, 1.0]]))
    mask = torch.tensor([[True, True], [True, False]])
    adv = torch.tensor([1.0, -1.0])
    losses, stats = clipped_surrogate(new, old, adv, mask, clip_low=0.2, clip_high=0.2)
    # row 0, A=+1: min(1.5, 1.2) = 1.2; min(0.5, 0.8) = 0.5. row 1, A=-1: min(-1.1, -1.1) = -1.1.
    assert losses.flatten().tolist() == pytest.approx([-1.2, -0.5, 1.1, 0.0])
    assert stats.clip_fraction == pytest.approx(2 / 3) and stats.ratio_max == pytest.approx(1.5)
    # SB3's approx_kl over the three real tokens: mean((r - 1) - log r).
    assert stats.approx_kl == pytest.approx(sum(r - 1 - math.log(r) for r in (1.5, 0.5, 1.1)) / 3)
    assert aggregate(losses, mask, "token_mean", 3, 2).item() == pytest.approx((-1.2 - 0.5 + 1.1) / 3)
    assert aggregate(losses, mask, "sequence_mean", 3, 2).item() == pytest.approx((-0.85 + 1.1) / 2)
    # GSPO: one ratio per sequence, the geometric mean of its tokens' ratios: sqrt(1.5 * 0.5) = 0.866 -> clipped at 0.8.
    seq, _ = clipped_surrogate(new, old, adv, mask, ratio_level="sequence")
    assert seq[0].tolist() == pytest.approx([-math.sqrt(0.75), -math.sqrt(0.75)])


def test_k3_kl_is_zero_at_the_reference_and_positive_elsewhere():
    lp = torch.log(torch.tensor([0.5, 0.25]))
    assert k3_kl(lp, lp).tolist() == [0.0, 0.0]
    ref = torch.log(torch.tensor([0.25, 0.5]))
    assert k3_kl(lp, ref).tolist() == pytest.approx([0.5 - math.log(0.5) - 1, 2 - math.log(2) - 1])
    losses, stats = clipped_surrogate(lp[None], lp[None], torch.tensor([0.0]), torch.ones(1, 2, dtype=torch.bool),
                                      ref_logprobs=ref[None], kl_coef=0.1)
    assert losses.sum().item() == pytest.approx(0.1 * (0.5 - math.log(0.5) - 1 + 2 - math.log(2) - 1))
    with pytest.raises(ValueError, match="ref_logprobs"):
        clipped_surrogate(lp[None], lp[None], torch.tensor([0.0]), torch.ones(1, 2, dtype=torch.bool), kl_coef=0.1)


TEACHER = Path(tempfile.mkdtemp()) / "teacher.jsonl"
TEACHER.write_text(json.dumps({"prompt": "Write something.", "completion": "abc def"}) + "\n")
"""sft's demonstrations (the testbed's prompt, a text of letters)."""


def make(name: str, policy: LMPolicy, seed: int = 0, **overrides):
    cls = AGENTS[name]
    settings = TESTBED_AGENTS.get(name, dict(learning_rate=3e-2, demonstrations=str(TEACHER)))
    config = cls.config_class(prompts_per_round=4, samples_per_prompt=8, seed=seed, **{**settings, **overrides})
    return cls(policy, TargetCharEnv(string.ascii_letters + string.digits), config)


TEXT_AGENTS = sorted(name for name, cls in AGENTS.items() if cls.needs_text_policy)


@pytest.mark.parametrize("name", TEXT_AGENTS)
def test_one_update_changes_every_trainable_parameter_and_the_loss_is_finite(name):
    policy = testbed_policy()
    # LoRA's B starts at zero, so A gets no gradient in the very first step: take two steps.
    agent = make(name, policy, **{"rest-em": {"merge": False}, "sft": {"epochs": 2}}.get(name, {"passes": 2}))
    before = [p.detach().clone() for p in policy.parameters()]
    stats = agent.learn(1)[0]
    unchanged = [i for i, (a, b) in enumerate(zip(before, policy.parameters())) if torch.equal(a, b)]
    assert not unchanged, f"{name}: {len(unchanged)} of {len(before)} trainable tensors did not change"
    assert stats.update and all(math.isfinite(v) for v in stats.update.values()), stats.update


@pytest.mark.parametrize("name", ["grpo", "ppo"])
def test_policy_gradient_agents_learn_a_known_reward(name):
    rewards = [s.reward_mean for s in make(name, testbed_policy(seed=2), seed=2).learn(6)]
    assert rewards[-1] > rewards[0] + 0.2, rewards


def test_grpo_is_on_policy_with_one_pass_and_moves_off_it_with_more():
    one = make("grpo", testbed_policy()).learn(1)[0].update
    assert one["losses/ratio_min"] == pytest.approx(1.0, abs=1e-5) and one["losses/ratio_max"] == pytest.approx(1.0, abs=1e-5)
    three = make("grpo", testbed_policy(), passes=3).learn(1)[0].update
    assert three["losses/ratio_max"] > 1.0 + 1e-4 and three["losses/kl"] > 0


def test_grpo_config_checks():
    with pytest.raises(ValueError, match="samples_per_prompt"):
        GRPOConfig(samples_per_prompt=1)
    with pytest.raises(ValueError, match="passes"):
        GRPOConfig(passes=0)


def test_ppo_value_head_tracks_rewards_without_diverging():
    history = make("ppo", testbed_policy(seed=2), seed=2).learn(4)
    values = [s.update["charts/value_mean"] for s in history]
    rewards = [s.reward_mean for s in history]
    assert all(-0.5 < v < 1.5 for v in values), values  # rewards are in [0, 1]; a raw head reached 4.9 in one step
    assert abs(values[-1] - rewards[-2]) < abs(values[0] - rewards[-2])  # it moves toward the rewards it saw


@pytest.mark.parametrize("name", TEXT_AGENTS)
def test_resume_continues_exactly(name, tmp_path):
    """A run stopped after round 1 and resumed by a new process-like agent equals an uninterrupted run
    (the subprocess kill -9 test in test_train_command.py covers a kill mid-round)."""
    import json

    def records(run):
        return [json.loads(line) for line in (run / "episodes.jsonl").read_text().splitlines()]

    make(name, testbed_policy()).learn(3, run_dir=tmp_path / "whole")
    make(name, testbed_policy()).learn(1, run_dir=tmp_path / "broken")
    resumed = make(name, testbed_policy())
    resumed.resume(tmp_path / "broken")
    assert resumed.round == 1
    resumed.learn(3)
    assert records(tmp_path / "broken") == records(tmp_path / "whole")


def test_ppo_value_step_is_bounded_whatever_the_hidden_scale():
    """Adam moves each weight by about its learning rate, so a head on raw (or unit-RMS) hidden states of a
    pretrained model jumps by lr * sum|h_i| (far past rewards in [0, 1] on the embedded model). At unit length the
    first step moves V by at most lr * sqrt(H), and the scale of the hidden states no longer matters."""
    from seal_gym.agents import TokenScores

    agent = make("ppo", testbed_policy())
    width, lr = 576, agent.config.value_learning_rate
    hidden = torch.randn(3, width, generator=torch.Generator().manual_seed(0)) * 40  # a pretrained model's scale

    def scores(h):
        return TokenScores(torch.zeros(3, 1), torch.ones(3, 1, dtype=torch.bool), torch.zeros(3, 1), h)

    before = agent._value(scores(hidden)).detach()
    assert torch.allclose(agent._value(scores(hidden * 1000)), before)
    optimizer = torch.optim.AdamW(agent.value_head.parameters(), lr=lr, weight_decay=0.0)
    ((agent._value(scores(hidden)) - 1.0) ** 2).mean().backward()
    optimizer.step()
    moved = (agent._value(scores(hidden)).detach() - before).abs().max().item()
    assert 0 < moved <= lr * (math.sqrt(width) + 1) + 1e-6, moved  # the bias moves by lr too


def test_ppo_takes_no_policy_step_on_a_batch_of_equal_rewards():
    """A batch of equal rewards (every recipe failed) leaves only R - V(prompt), the value head's error, which
    Adam would turn into a full-size step. Such a batch gets zero advantages (the value head still learns from
    it); a batch with reward variance is standardised as before."""
    import numpy as np

    from seal_gym.agents import Rollouts

    agent = make("ppo", testbed_policy())
    completions = [agent.policy.encode(prompt, "ab") for prompt in TargetCharEnv.PROMPTS for _ in range(2)]
    agent._head(agent.policy.score(completions[:1]).prompt_hidden.shape[1])
    torch.nn.init.normal_(agent.value_head.weight, std=0.01)  # a trained head: V differs a little per prompt

    def rollouts(rewards):
        return Rollouts(completions, np.asarray(rewards, dtype=float).reshape(3, 2, 1), [[{}]] * 6, ["p"] * 3)

    equal = agent.advantages(rollouts([0.0] * 6))
    assert float(equal.advantages.abs().max()) == 0.0 and equal.trained_fraction == 0.0
    assert equal.returns.tolist() == [0.0] * 6 and equal.old_values.shape == (6,)  # the value loss's targets, by value
    varied = agent.advantages(rollouts([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))
    assert float(varied.advantages.std()) == pytest.approx(1.0, abs=1e-4) and varied.trained_fraction == 1.0
    before = [p.detach().clone() for p in agent.policy.parameters()]
    value_before = agent.value_head.bias.detach().clone()
    assert agent.update(rollouts([0.0] * 6))["charts/trained_fraction"] == 0.0
    assert all(torch.equal(a, b) for a, b in zip(before, agent.policy.parameters()))
    assert not torch.equal(value_before, agent.value_head.bias)  # the value head learns that V should be 0
