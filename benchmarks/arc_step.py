"""Time one SealARC-v0 step on CPU, split into data building, training and prediction.

    python benchmarks/arc_step.py                                  # embedded SmolLM2-135M, 16 examples
    python benchmarks/arc_step.py --max-examples 250 --epochs 1 --threads 2

Prints a table of seconds per phase and the training throughput.
"""

from __future__ import annotations

import argparse
import time

import torch

from seal_gym.arc.recipe import Recipe
from seal_gym.envs.arc import SealARCEnv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="default: embedded SmolLM2-135M-Instruct")
    parser.add_argument("--engine", default="auto", help="adaptation engine: auto, sequential, batched")
    parser.add_argument("--generator", default="easy", help="'easy' (3x3) or 'full' (3x3 to 8x8)")
    parser.add_argument("--max-examples", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=Recipe().learning_rate)
    parser.add_argument("--basic", type=int, default=1, help="basic augmentations on (1) or off (0)")
    parser.add_argument("--vote", action="store_true", help="augmented inference: 9 answers and a vote")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    start = time.perf_counter()
    env = SealARCEnv(model=args.model, engine=args.engine, generator=args.generator, ttt={"max_examples": args.max_examples,
                                                                       "augmented_inference": args.vote})
    loaded = time.perf_counter() - start
    recipe = Recipe(use_basic_augmentations=bool(args.basic), learning_rate=args.lr, num_train_epochs=args.epochs)
    _, reset_info = env.reset(seed=args.seed)
    start = time.perf_counter()
    _, reward, _, _, info = env.step(recipe.to_json())
    total = time.perf_counter() - start
    timings = env.last_result
    steps = info["num_optimizer_steps"]
    print(f"model {env.domain.inner_loop.bundle.name}, engine {type(env.domain.inner_loop.engine).__name__}, task {reset_info['task_id']}, {args.threads} thread(s), "
          f"{info['num_ttt_examples']} examples, {steps} optimizer steps, vote {args.vote}, reward {reward}")
    print(f"{'phase':<16}{'seconds':>9}")
    print(f"{'model load':<16}{loaded:>9.2f}")
    print(f"{'data building':<16}{timings.build_seconds:>9.2f}")
    print(f"{'training':<16}{timings.train_seconds:>9.2f}   ({timings.train_seconds / max(steps, 1):.2f} s per optimizer step)")
    print(f"{'prediction':<16}{timings.predict_seconds:>9.2f}")
    print(f"{'step total':<16}{total:>9.2f}")


if __name__ == "__main__":
    main()
