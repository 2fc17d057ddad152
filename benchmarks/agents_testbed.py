"""Every text agent on the known-reward testbed, several seeds: does each learn, and does anything collapse?

The testbed (``seal_gym.testing.TargetCharEnv``) rewards the fraction of a self-edit's characters that are
letters or digits; the policy is the tiny random model with a LoRA policy adapter (on q, v and lm_head).
No inner loop runs, so this isolates the optimizers. Prints one row per (agent, seed): first and final
round reward, the final KL to the reference policy (GRPO/PPO; ReST-EM merges every round, so its
reference moves with it), the final per-token entropy, and "collapse" (the final reward below the first,
entropy under 0.05 nats, or self-edits under 2 tokens).

    python benchmarks/agents_testbed.py --rounds 6 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import string
import time

import torch

from seal_gym.agents import AGENTS
from seal_gym.agents.presets import TESTBED_AGENTS, testbed_policy
from seal_gym.testing import TargetCharEnv

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--prompts", type=int, default=4, help="prompts per round")
    parser.add_argument("--samples", type=int, default=8, help="self-edits per prompt")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"testbed: TargetCharEnv(letters+digits), tiny-random, {args.prompts} prompts x {args.samples} samples, "
          f"{args.rounds} rounds")
    print(f"{'agent':8} {'seed':>4} {'first':>6} {'final':>6} {'KL':>7} {'entropy':>7} {'collapse':>8} {'s':>5}")
    for name, settings in TESTBED_AGENTS.items():
        for seed in args.seeds:
            policy = testbed_policy(seed)
            cls = AGENTS[name]
            config = cls.config_class(prompts_per_round=args.prompts, samples_per_prompt=args.samples, seed=seed,
                                      **settings)
            start = time.perf_counter()
            history = cls(policy, TargetCharEnv(string.ascii_letters + string.digits), config).learn(args.rounds)
            seconds = time.perf_counter() - start
            final = history[-1]
            updates = [s.update for s in history if "losses/entropy" in s.update]
            kl = f"{updates[-1]['losses/kl']:.4f}" if updates else "n/a"
            with torch.no_grad():
                sample = policy.sample(list(TargetCharEnv.PROMPTS), 4)
                entropy = float(torch.cat([policy.score([c]).entropy[0] for c in sample]).mean())
            tokens = final.extra["self_edit_tokens"]
            collapse = "yes" if final.reward_mean < history[0].reward_mean or entropy < 0.05 or tokens < 2 else "no"
            print(f"{name:8} {seed:>4} {history[0].reward_mean:>6.2f} {final.reward_mean:>6.2f} {kl:>7} "
                  f"{entropy:>7.3f} {collapse:>8} {seconds:>5.1f}")


if __name__ == "__main__":
    main()
