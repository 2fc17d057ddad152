"""Does ReST-EM's curve rise and stay up on text envs it was not tuned on? Settings x reward functions x seeds.

Each run: the testbed policy (a fresh tiny random model with the testbed adapter, ``testbed_policy(seed)``), a
``TargetCharEnv`` whose reward is the share of the self-edit's characters in one set (letters and digits,
vowels, digits, upper-case letters: rewards the tiny model starts near 0.25, 0.05, 0.03 and 0.06 on), 4 prompts
x 16 samples a round, 5 rounds. A run **rises** when its last round's mean reward is above its first round's by
at least ``--margin`` and at least half of its best round's (no collapse). The table (:func:`table`): per setting,
how many of the runs rose, how many rose and then fell below half their best, the final round's reward and its
paired difference from the first setting's, and each reward function's first -> last means (policy seeds x agent
seeds, in that order). A rerun with ``--out`` of a finished study prints its table again without running.

    python studies/rest_em_stability.py                      # every setting, 4 rewards x 3 seeds
    python studies/rest_em_stability.py --settings merge no-merge grpo ppo
    python studies/rest_em_stability.py --settings merge merge-keep-a no-merge   # which part of a merge matters

``merge-keep-a`` merges every round as ``merge`` does, but the next round's adapter keeps the previous A (only B
restarts at 0) where a merge otherwise draws a fresh A: an ablation of the study, not a setting of the library.

``--writer cpu`` asks the same of SealSquad-v0's ``cpu`` preset: the embedded SmolLM2-135M-Instruct with the
preset's policy adapter, sampling and agent fields (4 prompts x 4 samples, lr 3e-4, 2 epochs), its 6 rounds by
default; a setting then overrides the preset's fields (``merge`` is ReST-EM's default, as the preset trains it):

    python studies/rest_em_stability.py --writer cpu --settings merge no-merge --rewards vowels upper digits \
        --seeds 0 1 --agent-seeds 0 --threads 2 --out studies/rest_em_stability/cpu.jsonl
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import string
import time
from pathlib import Path
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
    "merge-keep-a": ("rest-em", dict(TESTBED_AGENTS["rest-em"], merge=True)),  # with kept_a() (KEEP_A)
    "above-mean": ("rest-em", dict(TESTBED_AGENTS["rest-em"], merge=True, keep="above_mean")),
    "above-mean-lr2e-2": ("rest-em", dict(TESTBED_AGENTS["rest-em"], merge=True, keep="above_mean",
                                           learning_rate=2e-2)),
    "grpo": ("grpo", TESTBED_AGENTS["grpo"]),
    "ppo": ("ppo", TESTBED_AGENTS["ppo"]),
}
"""Name -> (agent, its settings): ReST-EM variants, and GRPO and PPO at their testbed settings for reference."""
KEEP_A = {"merge-keep-a"}
"""Settings whose runs merge into an adapter that keeps its A (:func:`kept_a`)."""


@contextlib.contextmanager
def kept_a():
    """Within the block, a policy adapter's merge restarts only B at 0 and keeps A (its first A is drawn as always)."""
    from seal_gym.adapt.policy_adapter import PolicyAdapter

    fresh = PolicyAdapter._reset_lora

    @torch.no_grad()
    def reset(self) -> None:
        if self.merges == 0:  # the adapter's first A (and a restore_pretrained): drawn as usual
            return fresh(self)
        for layer in self.layers.values():
            layer.policy_b.zero_()

    PolicyAdapter._reset_lora = reset
    try:
        yield
    finally:
        PolicyAdapter._reset_lora = fresh


CPU_PRESET = ("SealSquad-v0", "cpu")
"""``--writer cpu``: the preset whose policy and agent fields are tried."""
CPU_SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "merge": ("rest-em", dict(merge=True)),  # the preset's ReST-EM as SealSquad trains it (and SEAL does)
    "no-merge": ("rest-em", dict(merge=False)),  # the testbed's published change
    "merge-keep-a": ("rest-em", dict(merge=True)),  # with kept_a() (KEEP_A), as on the testbed
    "merge-lr3e-3": ("rest-em", dict(merge=True, learning_rate=3e-3)),  # 10x the preset's rate: does a bigger push rise?
    "grpo": ("grpo", {}),
    "ppo": ("ppo", {}),
}
"""``--writer cpu``: name -> (agent, fields over the preset's)."""


def writer(kind: str, setting: str, seed: int, agent_seed: int):
    """The policy (seed ``seed``) and the agent's config (seed ``agent_seed``) of one run."""
    agent, settings = (SETTINGS if kind == "testbed" else CPU_SETTINGS)[setting]
    cls = AGENTS[agent]
    if kind == "testbed":
        config = cls.config_class(prompts_per_round=4, samples_per_prompt=16, seed=agent_seed, **settings)
        return cls, testbed_policy(seed), config
    from seal_gym.agents import LMPolicy
    from seal_gym.agents.presets import agent_config, preset_for

    preset = preset_for(*CPU_PRESET)
    return (cls, LMPolicy(preset.model, preset.sampling, preset.policy_lora, seed=seed),
            agent_config(cls.config_class, preset, seed=agent_seed, **settings))


def run(setting: str, reward: str, seed: int, agent_seed: int, rounds: int, margin: float,
        kind: str = "testbed") -> dict[str, Any]:
    """One run: policy seed ``seed`` (the model's adapter), agent seed ``agent_seed`` (its draws)."""
    cls, policy, config = writer(kind, setting, seed, agent_seed)
    started = time.perf_counter()
    with kept_a() if setting in KEEP_A else contextlib.nullcontext():
        history = cls(policy, TargetCharEnv(REWARDS[reward]), config).learn(rounds)
    means = [s.reward_mean for s in history]
    rose = means[-1] >= means[0] + margin and means[-1] >= max(means) / 2
    collapsed = max(means) >= means[0] + 2 * margin and means[-1] < max(means) / 2  # rose, then fell back
    return {"setting": setting, "reward": reward, "seed": seed, "agent_seed": agent_seed, "means": means,
            "rose": rose, "collapsed": collapsed, "seconds": time.perf_counter() - started}


def table(rows: list[dict[str, Any]], settings: list[str], rewards: list[str]) -> str:
    """The study's table, as its analysis plan fixed it (benchmarks/RESULTS.md): per setting, the runs that rose
    and that rose then collapsed, the final round's mean reward (median and mean over runs), its final minus the
    first setting's paired by reward x policy seed x agent seed (:func:`seal_gym.stats.paired_difference`: mean,
    95 % bootstrap interval with seed 0, Wilcoxon's p; no multiplicity correction), and each reward's first -> last
    means."""
    import numpy as np

    from seal_gym.stats import paired_difference

    def finals(setting: str) -> dict[tuple, float]:
        return {(r["reward"], r["seed"], r["agent_seed"]): r["means"][-1] for r in rows if r["setting"] == setting}

    lines = [f"| setting | rose | rose, then collapsed | final, median (mean) | final minus {settings[0]}'s, paired | "
             + " | ".join(rewards) + " |", "|---|---|---|---|---|" + "---|" * len(rewards)]
    for setting in settings:
        mine = [r for r in rows if r["setting"] == setting]
        final = list(finals(setting).values())
        d = paired_difference(finals(setting), finals(settings[0])) if setting != settings[0] else None
        paired = f"{d.mean:+.2f} [{d.low:+.2f}, {d.high:+.2f}], p {d.p_value:.2g} (n {d.n})" if d else ""
        cells = [", ".join(f"{r['means'][0]:.2f}→{r['means'][-1]:.2f}" for r in mine if r["reward"] == reward)
                 for reward in rewards]
        lines.append(f"| {setting} | {sum(r['rose'] for r in mine)}/{len(mine)} | {sum(r['collapsed'] for r in mine)} | "
                     f"{np.median(final):.2f} ({np.mean(final):.2f}) | {paired} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", nargs="+", default=None, choices=sorted({*SETTINGS, *CPU_SETTINGS}),
                        help="default: every setting of the writer (cpu: " + ", ".join(CPU_SETTINGS) + ")")
    parser.add_argument("--rewards", nargs="+", default=list(REWARDS), choices=list(REWARDS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="policy seeds")
    parser.add_argument("--agent-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--writer", choices=["testbed", "cpu"], default="testbed",
                        help="the testbed's tiny policy, or SealSquad-v0's cpu preset (the embedded model)")
    parser.add_argument("--rounds", type=int, default=None, help="default: 5 (testbed), the preset's (cpu)")
    parser.add_argument("--margin", type=float, default=0.05, help="the rise a run needs, in reward")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None,
                        help="a .jsonl file each finished run is appended to; a rerun skips the runs it holds")
    args = parser.parse_args(argv)
    known = SETTINGS if args.writer == "testbed" else CPU_SETTINGS
    args.settings = args.settings or list(known)
    if unknown := [name for name in args.settings if name not in known]:
        parser.error(f"--writer {args.writer} has no setting {', '.join(unknown)}; its settings: {', '.join(known)}")
    torch.set_num_threads(args.threads)
    if args.rounds is None:
        from seal_gym.agents.presets import preset_for

        args.rounds = 5 if args.writer == "testbed" else preset_for(*CPU_PRESET).rounds
    done = [json.loads(line) for line in args.out.read_text().splitlines()] if args.out and args.out.exists() else []
    from seal_gym.runs import git_commit

    code = git_commit()  # each new row records the code it ran (a study runs from a clean checkout: queue.sh)
    rows = []
    for s, r, seed, agent_seed in itertools.product(args.settings, args.rewards, args.seeds, args.agent_seeds):
        key = dict(writer=args.writer, setting=s, reward=r, seed=seed, agent_seed=agent_seed, rounds=args.rounds)
        found = [row for row in done if {k: row.get(k) for k in key} == key]
        rows.append(found[0] if found else
                    {**key, **run(s, r, seed, agent_seed, args.rounds, args.margin, args.writer), "code": code})
        if args.out and not found:
            with args.out.open("a") as out:
                out.write(json.dumps(rows[-1]) + "\n")  # a stopped study goes on from the next run
    print(table(rows, args.settings, args.rewards), flush=True)
    return rows


if __name__ == "__main__":
    main()
