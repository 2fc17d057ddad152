"""What one env step costs with the embedded model: SealSquad-v0, its vector env (K self-edits), SealARC-v0.

Each row times one ``step`` through the registered env with SEAL's defaults: wall-clock seconds and the
process's CPU seconds (on a machine shared with other jobs, CPU seconds at ``--threads 1`` stay close to
what the step costs alone, while wall-clock time grows with the others' load). SealSquad rows use demo
passages 0..K-1 and their reference self-edits; the base model's answers to each passage (computed once
per passage, then cached) are timed in a row of their own. SealARC rows use one generated task and the
default recipe (basic augmentations, output-token loss, lr 1e-3, 2 epochs).

    python benchmarks/step_costs.py --threads 1                       # every row
    python benchmarks/step_costs.py --threads 1 --rows arc-cpu        # one row
"""

from __future__ import annotations

import argparse
import os
import time

import gymnasium as gym
import torch

import seal_gym  # noqa: F401  (registers the envs)
from seal_gym.arc.recipe import Recipe
from seal_gym.models import load_model
from seal_gym.squad.passages import demo_passages

ROWS = ("squad", "squad-vector", "arc-cpu", "arc-paper")


def timed(fn) -> tuple[float, float]:
    """Wall-clock and CPU seconds of ``fn()`` (after the GPU's queued work, if any, is done)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, of {', '.join(ROWS)}")
    parser.add_argument("--num-envs", type=int, default=4, help="K of the squad-vector row")
    parser.add_argument("--model", default=None, help="default: embedded SmolLM2-135M-Instruct")
    parser.add_argument("--device", default=None, help="default: CUDA if available, else CPU")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = args.rows.split(",")
    load_model(args.model, device=args.device)  # converts on first use; the timed load reads the cache
    load_wall, load_cpu = timed(lambda: load_model(args.model, device=args.device))
    bundle = load_model(args.model, device=args.device)
    table = [("model load (cache, in-process)", load_wall, load_cpu, 1)]
    k = args.num_envs
    passages = demo_passages()[:k]

    if "squad" in rows or "squad-vector" in rows:
        env = gym.make("SealSquad-v0", model=bundle)
        wall, cpu = timed(lambda: [env.unwrapped.domain.inner_loop.baseline(p) for p in passages])
        table.append(("SealSquad: base answers, per passage", wall / k, cpu / k, 1))
    if "squad" in rows:
        env.reset(seed=0, options={"passage_index": 0, "inner_seed": 0})
        table.append(("SealSquad-v0 step", *timed(lambda: env.step(passages[0].completions[0])), 1))
    if "squad-vector" in rows:
        venv = gym.make_vec("SealSquad-v0", num_envs=k, vectorization_mode="vector_entry_point", model=bundle)
        for passage in passages:  # its own inner loop's cache (untimed: the row above timed it)
            venv.unwrapped.domain.inner_loop.baseline(passage)
        venv.reset(seed=0, options={"per_env": [{"passage_index": i, "inner_seed": 0} for i in range(k)]})
        self_edits = [p.completions[0] for p in passages]
        table.append((f"SealSquad vector env step, K={k}", *timed(lambda: venv.step(self_edits)), k))
    for preset in ("cpu", "paper"):
        if f"arc-{preset}" in rows:
            arc = gym.make("SealARC-v0", model=bundle, ttt=preset)
            arc.reset(seed=0)
            info = {}
            wall, cpu = timed(lambda: info.update(arc.step(Recipe().to_json())[4]))
            table.append((f'SealARC-v0 step, ttt="{preset}" ({info["num_optimizer_steps"]} opt. steps)', wall, cpu, 1))

    print(f"device: {bundle.device} ({os.cpu_count()} CPU cores), {torch.get_num_threads()} torch threads, "
          f"model {bundle.name}, load average {os.getloadavg()[0]:.1f}")
    print(f"{'row':<52}{'wall s':>9}{'CPU s':>9}{'wall s per self-edit':>22}")
    for name, wall, cpu, count in table:
        print(f"{name:<52}{wall:>9.1f}{cpu:>9.1f}{wall / count:>22.1f}")


if __name__ == "__main__":
    main()
