"""Every text agent on a known-reward testbed, several seeds: does each learn, and does anything collapse?

Two testbeds, both on the tiny random model with the testbed policy adapter (on q, v and lm_head), no real
inner loop, so they isolate the optimizers:

- ``chars``: ``seal_gym.testing.TargetCharEnv`` rewards the fraction of a self-edit's characters that are
  letters or digits (a dense reward in [0, 1]);
- ``arc``: SealARC-v0 itself (its prompt, recipe parsing, TTT data, one vector step per round) with
  ``seal_gym.testing.recipe_paying_engine``: reward 1 exactly when the recipe trains at lr 1e-3 with the loss on
  the output tokens (1 recipe in 10 of the grid), else 0 (a sparse binary reward, like ARC's). The policy
  writes grid recipes through constrained decoding (``choices="arc-recipes"``); ReST-EM keeps the recipes that
  scored 1, as in the paper's ARC setting.

Prints one row per (agent, seed): first and final round reward, the final KL to the reference policy
(GRPO/PPO; ReST-EM merges every round, so its reference moves with it), the final per-token entropy, and
"collapse" (final reward below the first round's or under half the best round's, or a policy stuck below the top
reward with entropy under 0.05 nats or self-edits under 2 tokens). Entropy is
per token for free text (chars) and per self-edit for grid recipes (arc), whose JSON between choices is forced.

    python studies/agents_testbed.py --rounds 6 --seeds 0 1 2
    python studies/agents_testbed.py --env arc --rounds 8 --prompts 2 --samples 8
"""

from __future__ import annotations

import argparse
import string
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from seal_gym.agents import AGENTS, SamplingConfig
from seal_gym.agents.presets import TESTBED_AGENTS, TESTBED_SAMPLING, testbed_policy
from seal_gym.testing import TargetCharEnv


@dataclass
class Testbed:
    """What a testbed gives the agents."""

    env: Any
    """An env object or a registered id."""
    env_kwargs: dict[str, Any] | None
    """The env's arguments when ``env`` is an id (the policy's model is added: self mode)."""
    prompts: list[str]
    """Prompts the final entropy is measured on."""
    sampling: SamplingConfig
    agent_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per-agent settings on top of ``TESTBED_AGENTS``."""


def testbed(name: str) -> Testbed:
    if name == "chars":
        return Testbed(TargetCharEnv(string.ascii_letters + string.digits), None, list(TargetCharEnv.PROMPTS),
                       TESTBED_SAMPLING)
    from seal_gym.arc.domain import observation_prompt
    from seal_gym.arc.generator import GeneratorConfig, generate_task
    from seal_gym.testing import recipe_paying_engine

    tasks = [generate_task(seed, GeneratorConfig(min_demos=2, max_demos=2)) for seed in range(6)]
    kwargs = dict(engine=recipe_paying_engine(tasks), tasks=tasks,
                  ttt={"max_examples": 4, "max_new_tokens": 8, "leave_out": (1,)})
    return Testbed("SealARC-v0", kwargs, [observation_prompt(t) for t in tasks[:3]],
                   SamplingConfig(temperature=1.0, max_new_tokens=400, choices="arc-recipes"),
                   {"rest-em": dict(keep="threshold", min_reward=1.0)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", choices=("chars", "arc"), default="chars")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--prompts", type=int, default=4, help="prompts per round")
    parser.add_argument("--samples", type=int, default=8, help="self-edits per prompt")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"testbed {args.env}, tiny-random, {args.prompts} prompts x {args.samples} samples, {args.rounds} rounds")
    print(f"{'agent':8} {'seed':>4} {'first':>6} {'final':>6} {'best':>6} {'KL':>7} {'entropy':>7} {'collapse':>8} {'s':>5}")
    for name, settings in TESTBED_AGENTS.items():
        for seed in args.seeds:
            bed = testbed(args.env)
            policy = testbed_policy(seed, sampling=bed.sampling)
            if bed.env_kwargs is not None:
                bed.env_kwargs["model"] = policy.bundle  # self mode (the scripted engine ignores the weights)
            cls = AGENTS[name]
            config = cls.config_class(prompts_per_round=args.prompts, samples_per_prompt=args.samples, seed=seed,
                                      **settings, **bed.agent_settings.get(name, {}))
            start = time.perf_counter()
            history = cls(policy, bed.env, config, env_kwargs=bed.env_kwargs).learn(args.rounds)
            seconds = time.perf_counter() - start
            final = history[-1]
            updates = [s.update for s in history if "losses/kl" in s.update]  # rounds a policy-gradient update ran
            kl = f"{updates[-1]['losses/kl']:.4f}" if updates else "n/a"
            with torch.no_grad():
                sample = policy.sample(bed.prompts, 4)
                per_token = [policy.score([c]).entropy[0] for c in sample]
            # Free text: nats per token. Constrained: nats per self-edit (most of its tokens are forced, entropy 0).
            entropy = float(torch.stack([e.sum() for e in per_token]).mean() if policy.constraint else torch.cat(per_token).mean())
            tokens = final.extra["self_edit_tokens"]
            best = max(s.reward_mean for s in history)
            fell = final.reward_mean < history[0].reward_mean or final.reward_mean < best / 2
            stuck = (entropy < 0.05 or tokens < 2) and final.reward_mean < 0.95  # converged on the top reward: fine
            collapse = "yes" if fell or stuck else "no"
            print(f"{name:8} {seed:>4} {history[0].reward_mean:>6.2f} {final.reward_mean:>6.2f} {best:>6.2f} {kl:>7} "
                  f"{entropy:>7.3f} {collapse:>8} {seconds:>5.1f}", flush=True)


if __name__ == "__main__":
    main()
