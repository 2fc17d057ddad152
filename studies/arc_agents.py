"""ReST-EM vs GRPO vs SB3 PPO vs random recipes on SealARC-v0 (generated tasks), at one inner-loop budget.

1. Training: each agent runs ``seal-gym train --env SealARC-v0 --preset demo --agent AGENT`` (self mode; the
   text agents write recipes restricted to the recipe grid, SB3's PPO picks from the same grid) with the same
   rounds x tasks x samples, so every agent pays for the same number of inner loops. Each run is a normal run
   folder (TensorBoard, episodes.jsonl, checkpoints) under ``--runs-dir``.
2. Held out: ``--heldout`` generated tasks that no round drew (generator seeds from ``--heldout-seed``);
   ``--recipes`` recipes per task from each source (uniformly random grid recipes, the untrained writer, each
   trained policy) plus the default recipe, all trained on the pretrained model and scored exactly as a
   SealARC-v0 step (one :func:`~seal_gym.evaluation.evaluate_arc` call). Prints training rewards per round
   and the held-out success table.

    python studies/arc_agents.py --threads 2                       # ~2 h on a 2-core CPU
    python studies/arc_agents.py --preset smoke --heldout 2        # seconds, tiny random model
    python studies/arc_agents.py --trained runs/arc-agents__20261201-164722 --heldout 4   # held-out part again

Everything lands in one new folder (``--runs-dir``, default ``runs/arc-agents__<time>``): a train run folder per
agent, and per held-out evaluation a ``heldout__<time>`` folder with ``table.txt``, ``results.json``,
``results.csv`` (one row per recipe trained) and ``chart.png``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np

SB3 = "sb3-ppo"


def train(agent: str, args: argparse.Namespace) -> Path:
    """One ``seal-gym train`` run in its own process (self mode changes the model it trains)."""
    runs_dir = Path(args.runs_dir) / agent
    command = [sys.executable, "-m", "seal_gym.cli", "train", "--env", "SealARC-v0", "--agent", agent,
               "--preset", args.preset, "--rounds", str(args.rounds), "--seed", str(args.seed),
               "--prompts-per-round", str(args.tasks), "--samples-per-prompt", str(args.samples),
               "--runs-dir", str(runs_dir), "--threads", str(args.threads)]
    if agent == SB3:  # one recipe per task: the same inner loops as tasks x samples
        command[command.index("--prompts-per-round") + 1] = str(args.tasks * args.samples)
        at = command.index("--samples-per-prompt")
        del command[at:at + 2]
    print("$", " ".join(command[2:]), flush=True)
    subprocess.run(command, check=True)
    return only_run(runs_dir)


def only_run(folder: Path) -> Path:
    runs = [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
    if len(runs) != 1:
        raise SystemExit(f"{folder} should hold exactly one train run folder, it holds {len(runs)}")
    return runs[0]


def round_rewards(run_dir: Path) -> list[float]:
    records = [json.loads(line) for line in (run_dir / "episodes.jsonl").read_text().splitlines()]
    rounds = sorted({r["round"] for r in records})
    return [float(np.mean([r["reward"] for r in records if r["round"] == k])) for k in rounds]


def sb3_recipes(run_dir: Path, tasks, k: int, seed: int) -> list[list[str]]:
    """``k`` recipes per task sampled from the trained SB3 policy (stochastic, as the text policies sample)."""
    from stable_baselines3 import PPO

    from seal_gym.agents.runlog import latest_checkpoint
    from seal_gym.arc.features import task_features
    from seal_gym.arc.recipe import recipe_grid

    model = PPO.load(str(latest_checkpoint(run_dir) / "policy" / "sb3_ppo.zip"), device="cpu")
    model.set_random_seed(seed)
    grid, nvec = recipe_grid(), model.action_space.nvec
    out = []
    for task in tasks:
        features = task_features(task.train)
        actions = [model.predict(features, deterministic=False)[0] for _ in range(k)]
        out.append([grid[int(np.ravel_multi_index(tuple(a), nvec))].to_json() for a in actions])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", nargs="+", default=["rest-em", "grpo", SB3])
    parser.add_argument("--preset", default="demo", help="the train preset (demo: embedded model; smoke: tiny)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=2, help="tasks per round (G)")
    parser.add_argument("--samples", type=int, default=4, help="recipes per task (n); sb3-ppo gets G x n tasks")
    parser.add_argument("--heldout", type=int, default=6, help="held-out generated tasks")
    parser.add_argument("--heldout-seed", type=int, default=1_000_000, help="generator seed of the first one")
    parser.add_argument("--recipes", type=int, default=2, help="recipes per held-out task and source")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs-dir", default=None, help="default: runs/arc-agents__<time>")
    parser.add_argument("--trained", default=None, metavar="RUNS_DIR",
                        help="skip training: score the runs an earlier call left in RUNS_DIR/<agent>/")
    args = parser.parse_args()

    import torch

    from seal_gym.runs import run_metadata

    torch.set_num_threads(args.threads)
    started, metadata = time.perf_counter(), run_metadata()  # taken when the comparison starts
    if args.trained:
        args.runs_dir = args.trained
        runs = {agent: only_run(Path(args.trained) / agent) for agent in args.agents}
    else:
        args.runs_dir = args.runs_dir or f"runs/arc-agents__{time.strftime('%Y%m%d-%H%M%S')}"
        Path(args.runs_dir).mkdir(parents=True, exist_ok=False)  # never into an earlier comparison
        runs = {agent: train(agent, args) for agent in args.agents}
    trained_minutes = (time.perf_counter() - started) / 60

    from seal_gym.agents.policy import LMPolicy
    from seal_gym.agents.presets import preset_for
    from seal_gym.arc.domain import GENERATOR_PRESETS, observation_prompt
    from seal_gym.arc.generator import generate_tasks
    from seal_gym.arc.inner_loop import ArcInnerLoop
    from seal_gym.arc.recipe import Recipe, random_grid_recipes, read_recipe
    from seal_gym.commands.common import trained_policy, write_run_files
    from seal_gym.evaluation import ArcEvalConfig, SelfEdits, evaluate_arc, write_self_edits
    from seal_gym.models import load_model
    from seal_gym.runs import new_run_dir

    preset = preset_for("SealARC-v0", args.preset)
    bundle = load_model(preset.model)
    tasks = generate_tasks(args.heldout, args.heldout_seed, GENERATOR_PRESETS["easy"])
    prompts = [observation_prompt(t) for t in tasks]
    rng = np.random.default_rng(args.seed)
    sources = {"random": SelfEdits("random grid recipes", [random_grid_recipes(rng, args.recipes) for _ in tasks])}
    writer = LMPolicy(bundle, preset.sampling, preset.policy_lora, seed=args.seed)
    sources["untrained"] = SelfEdits("untrained writer", write_self_edits(writer.act, prompts, args.recipes))
    for agent, run_dir in runs.items():
        if agent == SB3:
            sources[agent] = SelfEdits("sb3-ppo (trained)", sb3_recipes(run_dir, tasks, args.recipes, args.seed))
        else:
            with trained_policy(str(run_dir), bundle) as policy:
                sources[agent] = SelfEdits(f"{agent} (trained)", write_self_edits(policy.act, prompts, args.recipes))
    ttt = preset.env_kwargs.get("ttt")
    loop = ArcInnerLoop(bundle, "auto", ttt)
    evaluation = evaluate_arc(loop, tasks, sources, ArcEvalConfig(in_context=False, default=Recipe(), grid=None),
                              on_task=lambda runs_: print(f"  held-out task {runs_[0].task_id}: "
                                                          f"{sum(r.reward for r in runs_):.0f}/{len(runs_)} solved", flush=True))

    lines = [f"training ({trained_minutes:.0f} min): mean reward per round"]
    lines += [f"  {agent:8} {' '.join(f'{x:.3f}' for x in round_rewards(run_dir))}   {run_dir}" for agent, run_dir in runs.items()]
    lines += ["", f"held out: {len(tasks)} generated tasks (seeds {args.heldout_seed}..), {args.recipes} recipes per source, "
                  f"TTT on the pretrained {bundle.name}; {(time.perf_counter() - started) / 60:.0f} min in all",
              evaluation.table(), "", "success % per task:", evaluation.task_table(), "",
              "learning rate x epochs of each source's valid recipes (count):"]
    for name, source in sources.items():
        chosen = [read_recipe(t).recipe for texts in source.per_task for t in texts]
        counts = Counter(f"{r.learning_rate:g}x{r.num_train_epochs}" for r in chosen if isinstance(r, Recipe))
        lines.append(f"  {name:10} {dict(counts.most_common())}  invalid: {sum(not isinstance(r, Recipe) for r in chosen)}")
    report = "\n".join(lines)
    print("\n" + report)
    out = new_run_dir(args.runs_dir, "heldout")
    write_run_files(out, args, report, {"runs": {a: str(r) for a, r in runs.items()}, "summary": evaluation.summary(),
                                        "per_task": evaluation.per_task(), "recipes": evaluation.runs},
                    [asdict(r) for r in evaluation.runs],
                    {"chart.png": evaluation.chart(f"SealARC-v0: {len(tasks)} held-out generated tasks")}, metadata)
    print(f"written to {out}")

if __name__ == "__main__":
    main()
