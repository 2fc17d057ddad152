"""One ARC task's K adapters in one batched engine call, against one sequential call each.

Why SealARC's ``auto`` engine trains one adapter at a time on a CPU. On SealSquad, batching 4 adapters was
1.13-1.52x faster than the sequential loop on a CPU (RESULTS.md, "Choosing the engine on CPU"); ARC's test-time training is another workload (rank-128 adapters,
augmented examples, the vote's queries). This trains the same K items both ways, one after the other in one
process (sequential first), and prints each way's wall seconds per adapter, their ratio, and how far the outcomes
differ (success, the correct output's log-probability).

    python benchmarks/arc_batching.py --adapters 4 --max-examples 12 --vote --threads 2
"""

from __future__ import annotations

import argparse
import time


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="default: the embedded SmolLM2-135M-Instruct")
    parser.add_argument("--adapters", type=int, default=4, help="K: the default recipe under TTT seeds 0..K-1")
    parser.add_argument("--task-seed", type=int, default=500_000, help="the generated task (default: a tune task)")
    parser.add_argument("--family", default="flip_ud")
    parser.add_argument("--max-examples", type=int, default=12)
    parser.add_argument("--vote", action="store_true", help="augmented inference (the cpu preset's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (where SealARC's auto engine does batch)")
    args = parser.parse_args(argv)

    import dataclasses

    import torch

    from seal_gym.arc.generator import GeneratorConfig, generate_task
    from seal_gym.arc.inner_loop import ArcInnerLoop, ArcItem
    from seal_gym.arc.recipe import Recipe
    from seal_gym.arc.ttt import TTT_PRESETS
    from seal_gym.models import load_model
    from seal_gym.stats import format_table

    torch.set_num_threads(args.threads)
    ttt = dataclasses.replace(TTT_PRESETS["cpu"], max_examples=args.max_examples, augmented_inference=args.vote)
    bundle = load_model(args.model, device=args.device)
    task = generate_task(args.task_seed, GeneratorConfig(families=(args.family,)))
    items = [ArcItem(task, Recipe().to_json(), seed) for seed in range(args.adapters)]
    timed = {}
    for engine in ("sequential", "batched"):
        loop = ArcInnerLoop(bundle, engine, ttt)
        start = time.perf_counter()
        if engine == "sequential":
            results = [loop.run([item], score_logprob=True)[0] for item in items]
        else:
            results = loop.run(items, score_logprob=True)
        timed[engine] = (time.perf_counter() - start, results)
    (alone, one), (together, two) = timed["sequential"], timed["batched"]
    rows = [["sequential, one call per adapter", f"{alone / len(items):.1f}", "1.00x",
             f"{sum(r.solved for r in one)}/{len(one)}", "", ""],
            [f"batched, {len(items)} adapters in one call", f"{together / len(items):.1f}",
             f"{alone / together:.2f}x", f"{sum(r.solved for r in two)}/{len(two)}",
             str(sum(a.solved != b.solved for a, b in zip(one, two))),
             f"{max(abs(a.logprob - b.logprob) for a, b in zip(one, two)):.3f}"]]
    print(f"{task.task_id}: {len(items)} adapters (the default recipe, TTT seeds 0..{len(items) - 1}), "
          f"{args.max_examples} examples, vote {'on' if args.vote else 'off'}, {args.device}, {args.threads} threads")
    print(format_table(["engine", "s per adapter", "speed-up", "solved", "success differs", "max logprob diff"],
                       rows))
    return [{"engine": engine, "seconds": seconds} for engine, (seconds, _) in timed.items()]


if __name__ == "__main__":
    main()
