"""What the inner-loop benchmarks share: their options, the self-edits they time, the model, and the timing.

Every benchmark of the inner loop (``inner_loop.py``: speed across engines; ``inner_loop_ray.py``: the Ray
engine; ``inner_loop_profile.py``: where one batched call's time goes; ``loss_memory.py``: the loss's peak
memory) times the same SQuAD-like self-edits: each ``--items`` implication lines plus the passage, with SEAL's
defaults (10 epochs, LoRA rank 32 / alpha 64 on all projections, lr 1e-3, batch 1; 5 questions x 64 new
tokens). Generation always runs the full ``--new-tokens`` (EOS is suppressed) so runs compare. The model is the
SmolLM2-135M architecture with random weights (timing does not depend on weight values; ``--model`` picks
another).
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

import torch

from seal_gym.adapt import AdaptRequest, LoraSpec, Query, TrainSequence, TrainSpec
from seal_gym.models import load_model

WORDS = "the river city council built bridge in year north museum art famous painter king army".split()
QUICK = dict(epochs=1, num_self_edits=4, ks="1,4", new_tokens=8, items=4, item_tokens=24, passage_tokens=96,
             question_tokens=24)
"""``--quick``: defaults for a 2-core CPU (options given on the command line still win)."""


def options(doc: str) -> argparse.ArgumentParser:
    """A parser with the options every inner-loop benchmark takes; a script adds its own before :func:`parse`."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--model", default="random:smollm2-135m",
                   help="what load_model accepts; tiny-random makes a seconds-long smoke run (the tests use it)")
    p.add_argument("--ks", default="1,4,16,64", help="comma-separated K (self-edits per batched engine call)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--num-self-edits", type=int, default=8, help="self-edits timed per engine (batched: >= K)")
    p.add_argument("--items", type=int, default=8, help="implication lines per self-edit (+1 passage)")
    p.add_argument("--item-tokens", type=int, default=40)
    p.add_argument("--passage-tokens", type=int, default=160)
    p.add_argument("--questions", type=int, default=5)
    p.add_argument("--question-tokens", type=int, default=40)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--rank", type=int, default=32)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    p.add_argument("--repeats", type=int, default=1, help="median of this many timed runs")
    p.add_argument("--quick", action="store_true",
                   help="2-core CPU defaults: 1 epoch, 4 self-edits of 4x24+96 tokens, K=1,4, 5x24 -> 8 tokens "
                        "(options given too still win)")
    return p


def parse(p: argparse.ArgumentParser, lists: dict[str, type] | None = None,
          argv: list[str] | None = None) -> argparse.Namespace:
    """Parse, with ``--quick``'s defaults where asked; ``--ks`` and the options named in ``lists`` (comma-separated,
    name -> item type) become lists."""
    args = p.parse_args(argv)
    if args.quick:  # new defaults: options given on the command line still win
        p.set_defaults(**QUICK)
        args = p.parse_args(argv)
    for name, kind in {"ks": int, **(lists or {})}.items():
        setattr(args, name, [kind(x) for x in getattr(args, name).split(",")])
    return args


def load(args: argparse.Namespace):
    """The model (bf16 on CUDA) and tokenizer, answering always ``--new-tokens`` tokens (EOS is suppressed)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    bundle = load_model(args.model, device=device, dtype=torch.bfloat16 if device.type == "cuda" else torch.float32)
    bundle.model.generation_config.min_new_tokens = args.new_tokens
    return bundle.model, bundle.tokenizer


def text(tokens: int, seed: int) -> str:
    """About ``tokens`` tokens of text for the byte-level tokenizer (one token per byte)."""
    g = torch.Generator().manual_seed(seed)
    words = []
    while sum(len(w) + 1 for w in words) < tokens:
        words.append(WORDS[int(torch.randint(len(WORDS), (1,), generator=g))])
    return " ".join(words)[:tokens]


def self_edits(args: argparse.Namespace, count: int, mixed_specs: bool = False) -> list[AdaptRequest]:
    """``count`` self-edits of the shape the options give; ``mixed_specs``: every other one with rank/4 on q, v."""
    lora = LoraSpec(rank=args.rank, alpha=2.0 * args.rank)
    small = LoraSpec(rank=max(1, args.rank // 4), alpha=args.rank / 2, target_modules=("q_proj", "v_proj"))
    requests = []
    for i in range(count):
        spec = small if mixed_specs and i % 2 else lora
        seqs = [TrainSequence(text(args.item_tokens, 1000 * i + j)) for j in range(args.items)]
        seqs.append(TrainSequence(text(args.passage_tokens, 1000 * i + 999)))
        queries = [Query(text(args.question_tokens, 5000 + 1000 * i + q), args.new_tokens)
                   for q in range(args.questions)]
        requests.append(AdaptRequest(tuple(seqs), tuple(queries), TrainSpec(epochs=args.epochs, seed=i), spec))
    return requests


def clock(model) -> float:
    """Seconds, after the model's device has finished its queued work."""
    if next(model.parameters()).device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"


def rss() -> int:
    """This process's resident set, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """Peak memory during a block: CUDA allocator peak, or sampled CPU resident set growth."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.peak = device, 0

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            self.base, self.stop = rss(), False
            self.thread = threading.Thread(target=self._sample, daemon=True)
            self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.stop:
            self.peak = max(self.peak, rss() - self.base)
            time.sleep(0.01)

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            self.peak = torch.cuda.max_memory_allocated() - self.base
        else:
            self.stop = True
            self.thread.join()


def warm_up(engine, requests: list[AdaptRequest], k: int) -> None:
    """One short call of ``k`` requests (one sequence, one epoch, one question each): kernels, caches, allocator."""
    engine.adapt([AdaptRequest(r.sequences[:1], r.queries[:1], TrainSpec(epochs=1, seed=r.train.seed), r.lora)
                  for r in requests[:k]])


def run_engine(name: str, engine, requests: list[AdaptRequest], k: int, model, repeats: int) -> dict:
    """Median over ``repeats`` of train / answer / wall seconds per self-edit, with ``k`` self-edits per call, and
    the peak memory. An engine's outcomes carry their seconds; a ``(train, answer)`` pair is taken as such."""
    device = next(model.parameters()).device
    warm_up(engine, requests, k)
    trains, answers, walls, peak = [], [], [], 0
    for _ in range(repeats):
        train = answer = 0.0
        with PeakMemory(device) as mem:
            start = clock(model)
            for i in range(0, len(requests), k):
                for out in engine.adapt(requests[i : i + k]):
                    t, a = (out.train_seconds, out.answer_seconds) if hasattr(out, "train_seconds") else out
                    train, answer = train + t, answer + a
            walls.append((clock(model) - start) / len(requests))
        trains.append(train / len(requests))
        answers.append(answer / len(requests))
        peak = max(peak, mem.peak)
    return {"engine": name, "n": len(requests), "train": statistics.median(trains),
            "answer": statistics.median(answers), "wall": statistics.median(walls), "peak": peak}
