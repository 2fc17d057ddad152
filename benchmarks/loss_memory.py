"""Peak memory of the batched engine's loss: full logits, chunked, and chunked with layer checkpointing.

Each variant runs in a fresh process: one ``adapt`` call of K self-edits with one ``--passage-tokens`` sequence
each (``workload.py``'s text), one epoch, no questions; printed are its peak memory (the CUDA allocator's peak,
or the process's resident-set high-water mark, reset before the call) and its seconds. The variants:
``loss_chunk_tokens=None`` (full logits, the engine's old way), chunked at each ``--loss-chunks`` (the default),
and chunked at the first of them with ``layer_checkpointing``.

Usage::

    python benchmarks/loss_memory.py --ks 16 --passage-tokens 256 --threads 1 --rank 8 --loss-chunks 2048,512
    python benchmarks/loss_memory.py --device cuda --ks 64 --passage-tokens 256
"""

from __future__ import annotations

import argparse
import multiprocessing
import os

import torch

from seal_gym.adapt import AdaptRequest, LoraSpec, TrainSequence, TrainSpec
from seal_gym.adapt.batched import BatchedEngine
from workload import clock, load, options, parse, rss, text  # benchmarks/workload.py

ARMS = ("full", "chunked", "checkpointed")


def measure(args: argparse.Namespace, k: int, chunk: int | None, layers: bool) -> tuple[int, float]:
    """Peak memory (bytes above the start of the call) and seconds of one ``adapt`` call; run in a fresh process."""
    model, tok = load(args)
    lora = LoraSpec(rank=args.rank, alpha=2.0 * args.rank)
    requests = [AdaptRequest((TrainSequence(text(args.passage_tokens, i)),), (), TrainSpec(epochs=1, seed=i), lora)
                for i in range(k)]
    engine = BatchedEngine(model, tok, max_adapters=k, loss_chunk_tokens=chunk, layer_checkpointing=layers)
    cuda = model.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        with open("/proc/self/clear_refs", "w") as f:  # resets VmHWM to the current resident set
            f.write("5")
        base = rss()
    start = clock(model)
    engine.adapt(requests)
    seconds = clock(model) - start
    peak = torch.cuda.max_memory_allocated() if cuda else high_water_mark()
    return peak - base, seconds


def high_water_mark() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def main(argv: list[str] | None = None) -> None:
    p = options(__doc__)
    p.add_argument("--loss-chunks", default="2048", help="comma-separated loss_chunk_tokens of the chunked variant")
    p.add_argument("--loss-arms", default=",".join(ARMS),
                   help="variants: full logits, chunked (each --loss-chunks), chunked (the first) with layer "
                        "checkpointing; leave full out where K x tokens x vocabulary would not fit")
    args = parse(p, {"loss_chunks": int, "loss_arms": str}, argv)
    if unknown := set(args.loss_arms) - set(ARMS):
        p.error(f"--loss-arms: unknown {sorted(unknown)}; choose from {','.join(ARMS)}")
    spawn = multiprocessing.get_context("spawn")
    # glibc keeps freed mid-sized blocks (it raises its mmap threshold as it goes), so the resident set would
    # count memory already freed; a fixed threshold returns every block over 128 KiB to the system on free.
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(128 * 1024))
    print(f"device: {args.device}; model {args.model}; rank {args.rank} on all "
          f"projections; each of K self-edits: 1 sequence of {args.passage_tokens} tokens, 1 epoch, no questions")
    print("| K | loss | peak MiB | train s | peak vs first row |")
    print("|---|---|---|---|---|")
    arms = [*([(None, False)] if "full" in args.loss_arms else []),
            *((chunk, False) for chunk in args.loss_chunks if "chunked" in args.loss_arms),
            *([(args.loss_chunks[0], True)] if "checkpointed" in args.loss_arms else [])]
    for k in args.ks:
        first = None
        for chunk, layers in arms:
            with spawn.Pool(1) as pool:
                peak, seconds = pool.apply(measure, (args, k, chunk, layers))
            first = first or peak
            label = "full logits (before)" if chunk is None else f"chunked, {chunk} tokens"
            label += " + layer checkpointing" if layers else ""
            print(f"| {k} | {label} | {peak / 2**20:.0f} | {seconds:.1f} | {peak / first:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
