"""Does ReST-EM's curve rise and stay up on text envs it was not tuned on? Settings x reward functions x seeds.

Each run: the testbed policy (a fresh tiny random model with the testbed adapter, ``testbed_policy(seed)``), a
``TargetCharEnv`` whose reward is the share of the self-edit's characters in one set (letters and digits,
vowels, digits, upper-case letters: rewards the tiny model starts near 0.25, 0.05, 0.03 and 0.06 on), 4 prompts
x 16 samples a round, 5 rounds. A run **rises** when its last round's mean reward is above its first round's by
at least ``--margin`` and at least half of its best round's (no collapse). The table: per setting, how many of
the runs rose, how many rose and then fell below half their best, and each reward function's first -> last
means (policy seeds x agent seeds, in that order).

    python studies/rest_em_stability.py                      # every setting, 4 rewards x 3 seeds
    python studies/rest_em_stability.py --settings merge no-merge grpo ppo
"""

from __future__ import annotations

import argparse
import string
import time
from typing import Any

import torch

from seal_gym.agents import AGENTS
from seal_gym.agents.presets import TESTBED_AGENTS, testbed_policy
from seal_gym.testing import TargetCharEnv

REWARDS = {"alnum": string.ascii_letters + string.digits, "vowels": "aeiouAEIOU", "digits": string.digits,
           "upper": string.ascii_uppercase}
"""Reward functions: the share of the self-edit's characters in each set."""
SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "merge": ("rest-em", dict(TESTBED_AGENTS["rest-em"], merge=True)),  # merging every round, as SEAL does
    "lr2e-2": ("rest-em", dict(TESTBED_AGENTS["rest-em"], merge=True, learning_rate=2e-2)),
    "lr2e-2-ep2": ("rest-em", dict(TESTBED_AGENTS["rest-em"], merge=True, learning_rate=2e-2, epochs=2)),
    "no-merge": ("rest-em", TESTBED_AGENTS["rest-em"]),  # the published testbed setting
    "above-mean": ("rest-em", dict(TESTBED_AGENTS["rest-em"], merge=True, keep="above_mean")),
    "above-mean-lr2e-2": ("rest-em", dict(TESTBED_AGENTS["rest-em"], merge=True, keep="above_mean",
                                           learning_rate=2e-2)),
    "grpo": ("grpo", TESTBED_AGENTS["grpo"]),
    "ppo": ("ppo", TESTBED_AGENTS["ppo"]),
}
"""Name -> (agent, its settings): ReST-EM variants, and GRPO and PPO at their testbed settings for reference."""


def run(setting: str, reward: str, seed: int, agent_seed: int, rounds: int, margin: float) -> dict[str, Any]:
    """One run: policy seed ``seed`` (the tiny model and its adapter), agent seed ``agent_seed`` (its draws)."""
    agent, settings = SETTINGS[setting]
    cls = AGENTS[agent]
    config = cls.config_class(prompts_per_round=4, samples_per_prompt=16, seed=agent_seed, **settings)
    started = time.perf_counter()
    history = cls(testbed_policy(seed), TargetCharEnv(REWARDS[reward]), config).learn(rounds)
    means = [s.reward_mean for s in history]
    rose = means[-1] >= means[0] + margin and means[-1] >= max(means) / 2
    collapsed = max(means) >= means[0] + 2 * margin and means[-1] < max(means) / 2  # rose, then fell back
    return {"setting": setting, "reward": reward, "seed": seed, "agent_seed": agent_seed, "means": means,
            "rose": rose, "collapsed": collapsed, "seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--rewards", nargs="+", default=list(REWARDS), choices=list(REWARDS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="policy seeds")
    parser.add_argument("--agent-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--margin", type=float, default=0.05, help="the rise a run needs, in reward")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = [run(s, r, seed, agent_seed, args.rounds, args.margin) for s in args.settings for r in args.rewards
            for seed in args.seeds for agent_seed in args.agent_seeds]
    print(f"| setting | rose | rose, then collapsed | {' | '.join(args.rewards)} |")
    print("|---|---|---|" + "---|" * len(args.rewards))
    for setting in args.settings:
        mine = [r for r in rows if r["setting"] == setting]
        cells = [", ".join(f"{r['means'][0]:.2f}→{r['means'][-1]:.2f}" for r in mine if r["reward"] == reward)
                 for reward in args.rewards]
        print(f"| {setting} | {sum(r['rose'] for r in mine)}/{len(mine)} | {sum(r['collapsed'] for r in mine)} | "
              f"{' | '.join(cells)} |", flush=True)
    return rows


if __name__ == "__main__":
    main()
