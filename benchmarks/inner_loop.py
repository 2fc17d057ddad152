"""Inner-loop speed, side by side in one run: reference-style pipeline vs. sequential vs. batched engine.

All engines get the same SQuAD-like self-edits (each: ``--items`` implication lines plus the passage;
SEAL defaults: 10 epochs, LoRA rank 32 / alpha 64 on all projections, lr 1e-3, batch 1; 5 questions x 64
new tokens). Generation always runs the full ``--new-tokens`` (EOS is suppressed) so runs compare. The
model is the SmolLM2-135M architecture with random weights (timing does not depend on weight values;
``--model`` picks another).

1. ``reference``: what SEAL's code does per self-edit: a fresh peft adapter trained by one HF ``Trainer``
   run (batch 1), then answering with the adapted model.
2. ``sequential``: :class:`seal_gym.adapt.SequentialEngine`.
3. ``batched K=..``: :class:`seal_gym.adapt.BatchedEngine`, K self-edits per ``adapt`` call.
4. ``ray``: :class:`seal_gym.adapt.ray_engine.RayEngine` with ``--ray-workers`` actors (one CPU/thread or
   one GPU each) on a local Ray, all ``--num-self-edits`` per call; printed in a second table by wall time
   (the engine's own per-edit seconds add up the actors' work), beside the local batched engine at the
   same K and threads.

``--profile`` instead runs one batched call of the largest ``--ks`` K under ``torch.profiler`` and prints
where its time goes: train vs answer seconds, the operators with the most self time (device time on CUDA),
and how busy the device was (device time / wall time; low means launch- or Python-bound, not compute-bound).

``--loss-memory`` instead compares the batched engine's loss with full logits (``loss_chunk_tokens=None``,
the old way), chunked (the default) and chunked with ``layer_checkpointing``, each in a fresh process: peak
memory (CUDA allocator peak, or the
process's resident-set high-water mark, reset before the call) and time of one ``adapt`` call of K
self-edits with one ``--passage-tokens`` sequence each, one epoch, no questions.

Usage::

    python benchmarks/inner_loop.py --quick               # a few minutes on a 2-core CPU
    python benchmarks/inner_loop.py --device cuda         # full SEAL settings, bf16, K = 1, 4, 16, 64
    python benchmarks/inner_loop.py --loss-memory --ks 16 --passage-tokens 256 --threads 1
    python benchmarks/inner_loop.py --profile --device cuda --ks 64 --epochs 1
    python benchmarks/inner_loop.py --quick --engines ray --ray-workers 1,2 --num-self-edits 8
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, fields

import torch

from seal_gym.adapt import AdaptRequest, LoraSpec, Query, TrainSequence, TrainSpec
from seal_gym.adapt.batched import BatchedEngine
from seal_gym.adapt import greedy_answers
from seal_gym.adapt.sequential import SequentialEngine, remove_peft_adapter
from seal_gym.models import load_model

WORDS = "the river city council built bridge in year north museum art famous painter king army".split()


@dataclass
class Args:
    model: str
    device: str
    ks: list[int]
    epochs: int
    num_self_edits: int
    items: int
    item_tokens: int
    passage_tokens: int
    questions: int
    question_tokens: int
    new_tokens: int
    rank: int
    threads: int | None
    engines: list[str]
    repeats: int
    group_by: list[str]
    mixed_specs: bool
    loss_memory: bool
    profile: bool
    loss_chunks: list[int]
    loss_arms: list[str]
    ray_workers: list[int]


# Comma-separated options and the type of their items.
LIST_OPTIONS = {"ks": int, "engines": str, "group_by": str, "loss_chunks": int, "loss_arms": str, "ray_workers": int}
LOSS_ARMS = ("full", "chunked", "checkpointed")


def parse_args() -> Args:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--model", default="random:smollm2-135m",
                   help="what load_model accepts; tiny-random makes a seconds-long smoke run (the tests use it)")
    p.add_argument("--ks", default="1,4,16,64", help="comma-separated K for the batched engine")
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
    p.add_argument("--engines", default="reference,sequential,batched")
    p.add_argument("--repeats", type=int, default=1, help="median of this many timed runs")
    p.add_argument("--group-by", default="spec", help="comma-separated BatchedEngine group_by values to compare")
    p.add_argument("--mixed-specs", action="store_true",
                   help="every other self-edit uses rank/4 on q,v only (to compare group_by none vs spec)")
    p.add_argument("--loss-memory", action="store_true",
                   help="compare peak memory of the full-logits and chunked loss (see above) instead of speed")
    p.add_argument("--profile", action="store_true",
                   help="profile one batched call of the largest K (see above) instead of timing engines")
    p.add_argument("--loss-chunks", default="2048", help="comma-separated loss_chunk_tokens for --loss-memory")
    p.add_argument("--loss-arms", default=",".join(LOSS_ARMS),
                   help="--loss-memory variants: full logits, chunked (each --loss-chunks), chunked (the first) with "
                        "layer checkpointing; leave full out where K x tokens x vocabulary would not fit")
    p.add_argument("--ray-workers", default="1,2", help="comma-separated actor counts for the ray engine")
    p.add_argument("--quick", action="store_true",
                   help="2-core CPU defaults: 1 epoch, 4 self-edits of 4x24+96 tokens, K=1,4, 5x24 -> 8 tokens "
                        "(options given too still win)")
    a = p.parse_args()
    if a.quick:  # new defaults: options given on the command line still win
        p.set_defaults(epochs=1, num_self_edits=4, ks="1,4", new_tokens=8, items=4, item_tokens=24, passage_tokens=96,
                       question_tokens=24)
        a = p.parse_args()
    values = {f.name: getattr(a, f.name) for f in fields(Args)}
    for name, kind in LIST_OPTIONS.items():
        values[name] = [kind(x) for x in values[name].split(",")]
    if unknown := set(values["loss_arms"]) - set(LOSS_ARMS):
        p.error(f"--loss-arms: unknown {sorted(unknown)}; choose from {','.join(LOSS_ARMS)}")
    return Args(**values)


def text(tokens: int, seed: int) -> str:
    """About ``tokens`` tokens of text for the byte-level tokenizer (one token per byte)."""
    g = torch.Generator().manual_seed(seed)
    words = []
    while sum(len(w) + 1 for w in words) < tokens:
        words.append(WORDS[int(torch.randint(len(WORDS), (1,), generator=g))])
    return " ".join(words)[:tokens]


def self_edits(args: Args, count: int) -> list[AdaptRequest]:
    lora = LoraSpec(rank=args.rank, alpha=2.0 * args.rank)
    small = LoraSpec(rank=max(1, args.rank // 4), alpha=args.rank / 2, target_modules=("q_proj", "v_proj"))
    requests = []
    for i in range(count):
        spec = small if args.mixed_specs and i % 2 else lora
        seqs = [TrainSequence(text(args.item_tokens, 1000 * i + j)) for j in range(args.items)]
        seqs.append(TrainSequence(text(args.passage_tokens, 1000 * i + 999)))
        queries = [Query(text(args.question_tokens, 5000 + 1000 * i + q), args.new_tokens) for q in range(args.questions)]
        requests.append(AdaptRequest(tuple(seqs), tuple(queries), TrainSpec(epochs=args.epochs, seed=i), spec))
    return requests


class ReferencePipeline:
    """SEAL's reference inner loop, minus the disk and vLLM hops: one peft + HF Trainer run per self-edit."""

    def __init__(self, model, tokenizer) -> None:
        self.model, self.tokenizer = model, tokenizer

    def adapt(self, requests: list[AdaptRequest]) -> list[tuple[float, float]]:
        return [self._one(r) for r in requests]

    def _one(self, request: AdaptRequest) -> tuple[float, float]:
        from peft import LoraConfig, get_peft_model
        from transformers import Trainer, TrainingArguments

        start = clock(self.model)
        spec = request.lora
        peft_model = get_peft_model(self.model, LoraConfig(r=spec.rank, lora_alpha=spec.alpha, lora_dropout=0.0,
                                                           target_modules=list(spec.target_modules)))
        eos = self.tokenizer.eos_token
        data = [self.tokenizer(s.prompt + s.completion + eos, add_special_tokens=False) for s in request.sequences]
        data = [{"input_ids": d["input_ids"], "labels": d["input_ids"]} for d in data]
        cuda = self.model.device.type == "cuda"
        with tempfile.TemporaryDirectory() as out:
            targs = TrainingArguments(
                output_dir=out, per_device_train_batch_size=1, num_train_epochs=request.train.epochs,
                learning_rate=request.train.learning_rate, lr_scheduler_type="constant", save_strategy="no",
                logging_strategy="no", report_to=[], use_cpu=not cuda, bf16=cuda, disable_tqdm=True,
                remove_unused_columns=False, dataloader_pin_memory=False,
            )
            Trainer(model=peft_model, args=targs, train_dataset=data).train()
        trained = clock(self.model)
        peft_model.eval()
        greedy_answers(peft_model, self.tokenizer, list(request.queries))
        answered = clock(self.model)
        remove_peft_adapter(peft_model, self.model)
        return trained - start, answered - trained


def clock(model) -> float:
    if next(model.parameters()).device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


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


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def warm_up(engine, requests: list[AdaptRequest], k: int) -> None:
    """One short call of ``k`` requests (one sequence, one epoch, one question each): kernels, caches, allocator."""
    engine.adapt([AdaptRequest(r.sequences[:1], r.queries[:1], TrainSpec(epochs=1, seed=r.train.seed), r.lora)
                  for r in requests[:k]])


def run_engine(name: str, engine, requests: list[AdaptRequest], k: int, model, repeats: int) -> dict:
    """Median over ``repeats`` of train / answer seconds per self-edit, with ``k`` self-edits per call."""
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


def ray_rows(args: Args, model, tok) -> list[dict]:
    """Local batched engine, then the Ray engine with each ``--ray-workers`` count: all self-edits per call."""
    import ray

    from seal_gym.adapt.ray_engine import RayEngine

    k = args.num_self_edits
    requests = self_edits(args, k)
    rows = [run_engine(f"batched K={k}, local", BatchedEngine(model, tok, max_adapters=k), requests, k, model,
                       args.repeats)]
    on_cuda = next(model.parameters()).device.type == "cuda"
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
    return rows


def loss_memory_run(args: Args, k: int, chunk: int | None, layers: bool) -> tuple[int, float]:
    """Peak memory (bytes above the start of the call) and seconds of one ``adapt`` call; run in a fresh process."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    bundle = load_model(args.model, device=device, dtype=torch.bfloat16 if device.type == "cuda" else None)
    lora = LoraSpec(rank=args.rank, alpha=2.0 * args.rank)
    requests = [AdaptRequest((TrainSequence(text(args.passage_tokens, i)),), (), TrainSpec(epochs=1, seed=i), lora)
                for i in range(k)]
    engine = BatchedEngine(bundle.model, bundle.tokenizer, max_adapters=k, loss_chunk_tokens=chunk,
                           layer_checkpointing=layers)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        with open("/proc/self/clear_refs", "w") as f:  # resets VmHWM to the current resident set
            f.write("5")
        base = rss()
    start = clock(bundle.model)
    engine.adapt(requests)
    seconds = clock(bundle.model) - start
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else high_water_mark()
    return peak - base, seconds


def high_water_mark() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def loss_memory(args: Args) -> None:
    """Print full-logits vs chunked loss peak memory, each measured in a fresh process."""
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
        full = None
        for chunk, layers in arms:
            with spawn.Pool(1) as pool:
                peak, seconds = pool.apply(loss_memory_run, (args, k, chunk, layers))
            full = full or peak
            label = "full logits (before)" if chunk is None else f"chunked, {chunk} tokens"
            label += " + layer checkpointing" if layers else ""
            print(f"| {k} | {label} | {peak / 2**20:.0f} | {seconds:.1f} | {peak / full:.2f}x |", flush=True)


def profile(args: Args, model, tok) -> None:
    """Print where one batched call of the largest K spends its time (see the module docstring)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    k, cuda = max(args.ks), model.device.type == "cuda"
    requests = self_edits(args, k)
    engine = BatchedEngine(model, tok, max_adapters=k, answer_batch_size=max(256, k * args.questions))
    warm_up(engine, requests, k)
    activities = [ProfilerActivity.CPU, *([ProfilerActivity.CUDA] if cuda else [])]
    with torch_profile(activities=activities) as prof:
        start = clock(model)
        outcomes = engine.adapt(requests)
        wall = clock(model) - start
    events = prof.key_averages()
    train, answer = sum(o.train_seconds for o in outcomes), sum(o.answer_seconds for o in outcomes)
    print(f"device: {device_name(model.device)}; model {args.model}; one batched call of K={k} self-edits, {args.epochs} epochs, "
          f"{args.questions} questions x {args.new_tokens} new tokens each (under the profiler, which slows it)")
    print(f"wall {wall:.2f} s: train {train:.2f} s, answer {answer:.2f} s; {k / wall:.2f} self-edits/s")
    if cuda:
        busy = sum(e.self_device_time_total for e in events) / 1e6
        print(f"device busy {busy:.2f} s of {wall:.2f} s wall ({busy / wall:.0%}); below ~80 %: launch-bound")
    print(events.table(sort_by="self_device_time_total" if cuda else "self_cpu_time_total", row_limit=25))


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"


def main() -> None:
    args = parse_args()
    if args.loss_memory:
        return loss_memory(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    bundle = load_model(args.model, device=device, dtype=dtype)
    model, tok = bundle.model, bundle.tokenizer
    model.generation_config.min_new_tokens = args.new_tokens  # fixed-length answers: EOS is suppressed
    if args.profile:
        return profile(args, model, tok)
    rows: list[dict] = []
    base = self_edits(args, args.num_self_edits)
    if "ray" in args.engines:
        walls = ray_rows(args, model, tok)
        print(f"device: {device}; {args.threads or torch.get_num_threads()} thread(s) per engine; "
              f"{args.num_self_edits} self-edits per call; {args.epochs} epochs")
        print("| engine | self-edits timed | wall s/edit | self-edits/s (wall) | vs first row |")
        print("|---|---|---|---|---|")
        for r in walls:
            print(f"| {r['engine']} | {r['n']} | {r['wall']:.2f} | {1 / r['wall']:.3f} | {walls[0]['wall'] / r['wall']:.2f}x |")
        if args.engines == ["ray"]:
            return
    if "reference" in args.engines:
        rows.append(run_engine("reference (peft+Trainer)", ReferencePipeline(model, tok), base, 1, model, args.repeats))
    if "sequential" in args.engines:
        rows.append(run_engine("sequential", SequentialEngine(model, tok), base, 1, model, args.repeats))
    if "batched" in args.engines:
        for group_by in args.group_by:
            for k in args.ks:
                reqs = self_edits(args, max(k, args.num_self_edits // k * k))
                engine = BatchedEngine(model, tok, max_adapters=k, answer_batch_size=max(256, k * args.questions),
                                        group_by=group_by)
                label = f"batched K={k}" + (f" group_by={group_by}" if len(args.group_by) > 1 else "")
                rows.append(run_engine(label, engine, reqs, k, model, args.repeats))
    ref = rows[0]["train"] + rows[0]["answer"]
    print(f"device: {device_name(device)}; model {args.model}; dtype {str(dtype).replace('torch.', '')}; "
          f"torch {torch.__version__}")
    print(f"self-edit{' (mixed LoRA specs)' if args.mixed_specs else ''}: {args.items}x{args.item_tokens} + 1x{args.passage_tokens} tokens, {args.epochs} epochs, "
          f"rank {args.rank}, batch 1; {args.questions} questions x {args.question_tokens} tokens -> "
          f"{args.new_tokens} new tokens")
    print("| engine | self-edits timed | self-edits/s | train ms/edit | answer ms/edit | speed-up vs first row | peak MiB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        total = r["train"] + r["answer"]
        print(f"| {r['engine']} | {r['n']} | {1 / total:.3f} | {1000 * r['train']:.0f} | {1000 * r['answer']:.0f} "
              f"| {ref / total:.2f}x | {r['peak'] / 2**20:.0f} |")


if __name__ == "__main__":
    main()
