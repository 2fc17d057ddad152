"""Seconds per training round, split into sampling, inner loop and update, for each agent at one budget.

Timing needs no real weights: the default model is the SmolLM2-135M architecture with random weights, which
never stops early, so every self-edit has exactly ``--max-new-tokens`` tokens and runs compare. Each agent
gets a fresh model and runs ``--rounds`` rounds on SealSquad-v0 (self mode); the table shows the median
round. On a GPU, ``--preset paper`` takes the paper's budget from seal_gym.agents.presets.

    python benchmarks/agent_round.py --threads 2
    python benchmarks/agent_round.py --device cuda --preset paper --rounds 1
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics

import torch

from seal_gym.adapt import TrainSpec
from seal_gym.agents import AGENTS, LMPolicy, make_agent
from seal_gym.agents.presets import agent_config, preset_for
from seal_gym.models import load_model

PHASES = ("sampling", "inner_loop", "update")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="random:smollm2-135m")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--agents", nargs="+", default=["rest-em", "grpo", "ppo"])
    parser.add_argument("--preset", default="demo", help="the budget (smoke, demo, paper) before the overrides below")
    parser.add_argument("--prompts", type=int, default=2, help="prompts per round")
    parser.add_argument("--samples", type=int, default=2, help="self-edits per prompt")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--inner-epochs", type=int, default=2, help="SealSquad inner-loop epochs")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    preset = preset_for("SealSquad-v0", args.preset)
    if args.preset != "paper":
        preset = dataclasses.replace(
            preset, agent={**preset.agent, "prompts_per_round": args.prompts, "samples_per_prompt": args.samples},
            sampling=dataclasses.replace(preset.sampling, max_new_tokens=args.max_new_tokens),
            env_kwargs={**preset.env_kwargs, "train": TrainSpec(epochs=args.inner_epochs)})
    device = torch.device(args.device)
    print(f"SealSquad-v0, model {args.model} on {device} ({torch.cuda.get_device_name(0) if device.type == 'cuda' else f'{torch.get_num_threads()} threads'}), "
          f"{preset.agent['prompts_per_round']} prompts x {preset.agent['samples_per_prompt']} self-edits of "
          f"{preset.sampling.max_new_tokens} tokens, median of {args.rounds} rounds")
    print(f"{'agent':8} " + " ".join(f"{p + ' s':>13}" for p in PHASES) + f" {'round s':>9}")
    for name in args.agents:
        policy = LMPolicy(load_model(args.model, device=device), preset.sampling, preset.policy_lora)
        config = agent_config(AGENTS[name].config_class, preset)
        agent = make_agent(name, policy=policy, env="SealSquad-v0", config=config, env_kwargs=dict(preset.env_kwargs))
        history = agent.learn(args.rounds)
        medians = {p: statistics.median(s.seconds.get(p, 0.0) for s in history) for p in PHASES}
        print(f"{name:8} " + " ".join(f"{medians[p]:>13.1f}" for p in PHASES) + f" {sum(medians.values()):>9.1f}")


if __name__ == "__main__":
    main()
