"""The Ray engine against the local batched engine: wall seconds per self-edit, all self-edits in one call.

:class:`seal_gym.adapt.ray_engine.RayEngine` with each ``--ray-workers`` count of actors (one CPU/thread or one
GPU each) on a local Ray, beside :class:`seal_gym.adapt.BatchedEngine` at the same K (``--num-self-edits``) and
threads, on the self-edits of ``workload.py``. The table is by wall time: the engine's own per-edit seconds add up
the actors' work.

Usage::

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/inner_loop_ray.py --quick --ray-workers 1,2 \\
        --num-self-edits 8 --repeats 2 --threads 1
"""

from __future__ import annotations

import torch

from seal_gym.adapt.batched import BatchedEngine
from workload import load, options, parse, run_engine, self_edits  # benchmarks/workload.py


def main(argv: list[str] | None = None) -> None:
    p = options(__doc__)
    p.add_argument("--ray-workers", default="1,2", help="comma-separated actor counts")
    args = parse(p, {"ray_workers": int}, argv)
    import ray

    from seal_gym.adapt.ray_engine import RayEngine

    model, tok = load(args)
    k = args.num_self_edits
    requests = self_edits(args, k)
    rows = [run_engine(f"batched K={k}, local", BatchedEngine(model, tok, max_adapters=k), requests, k, model,
                       args.repeats)]
    on_cuda = model.device.type == "cuda"
    ray.init(num_cpus=max(args.ray_workers) * (args.threads or 1), num_gpus=torch.cuda.device_count() if on_cuda else 0,
             include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        for workers in args.ray_workers:
            with RayEngine(model, tok, num_workers=workers, num_cpus_per_worker=args.threads or 1,
                           max_adapters=k) as engine:
                rows.append(run_engine(f"ray, {workers} worker{'s' * (workers > 1)}", engine, requests, k, model,
                                       args.repeats))
    finally:
        ray.shutdown()
    print(f"device: {model.device}; {args.threads or torch.get_num_threads()} thread(s) per engine; "
          f"{k} self-edits per call; {args.epochs} epochs")
    print("| engine | self-edits timed | wall s/edit | self-edits/s (wall) | vs first row |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['engine']} | {r['n']} | {r['wall']:.2f} | {1 / r['wall']:.3f} | {rows[0]['wall'] / r['wall']:.2f}x |")


if __name__ == "__main__":
    main()
