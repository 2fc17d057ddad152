"""Inner-loop speed, side by side in one run: reference-style pipeline vs. sequential vs. batched engine.

All engines get the same self-edits (``workload.py``: SEAL's settings by default, random weights, fixed-length
answers).

1. ``reference``: what SEAL's code does per self-edit: a fresh peft adapter trained by one HF ``Trainer``
   run (batch 1), then answering with the adapted model.
2. ``sequential``: :class:`seal_gym.adapt.SequentialEngine`.
3. ``batched K=..``: :class:`seal_gym.adapt.BatchedEngine`, K self-edits per ``adapt`` call.

The Ray engine has its own script (``inner_loop_ray.py``), as do the loss's peak memory (``loss_memory.py``) and
a profile of one batched call (``inner_loop_profile.py``).

Usage::

    python benchmarks/inner_loop.py --quick               # a few minutes on a 2-core CPU
    python benchmarks/inner_loop.py --device cuda         # full SEAL settings, bf16, K = 1, 4, 16, 64
    python benchmarks/inner_loop.py --quick --mixed-specs --engines sequential,batched --group-by none,spec --ks 4
"""

from __future__ import annotations

import tempfile

import torch

from seal_gym.adapt import AdaptRequest, greedy_answers
from seal_gym.adapt.batched import BatchedEngine
from seal_gym.adapt.sequential import SequentialEngine, remove_peft_adapter
from workload import clock, device_name, load, options, parse, run_engine, self_edits  # benchmarks/workload.py

ENGINES = ("reference", "sequential", "batched")


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


def main(argv: list[str] | None = None) -> None:
    p = options(__doc__)
    p.add_argument("--engines", default=",".join(ENGINES), help="comma-separated, of " + ", ".join(ENGINES))
    p.add_argument("--group-by", default="spec", help="comma-separated BatchedEngine group_by values to compare")
    p.add_argument("--mixed-specs", action="store_true",
                   help="every other self-edit uses rank/4 on q,v only (to compare group_by none vs spec)")
    args = parse(p, {"engines": str, "group_by": str}, argv)
    if unknown := set(args.engines) - set(ENGINES):
        p.error(f"--engines: unknown {sorted(unknown)}; choose from {','.join(ENGINES)} "
                "(the Ray engine: benchmarks/inner_loop_ray.py)")
    model, tok = load(args)
    rows: list[dict] = []
    base = self_edits(args, args.num_self_edits, args.mixed_specs)
    if "reference" in args.engines:
        rows.append(run_engine("reference (peft+Trainer)", ReferencePipeline(model, tok), base, 1, model, args.repeats))
    if "sequential" in args.engines:
        rows.append(run_engine("sequential", SequentialEngine(model, tok), base, 1, model, args.repeats))
    if "batched" in args.engines:
        for group_by in args.group_by:
            for k in args.ks:
                reqs = self_edits(args, max(k, args.num_self_edits // k * k), args.mixed_specs)
                engine = BatchedEngine(model, tok, max_adapters=k, answer_batch_size=max(256, k * args.questions),
                                       group_by=group_by)
                label = f"batched K={k}" + (f" group_by={group_by}" if len(args.group_by) > 1 else "")
                rows.append(run_engine(label, engine, reqs, k, model, args.repeats))
    ref = rows[0]["train"] + rows[0]["answer"]
    print(f"device: {device_name(model.device)}; model {args.model}; dtype {str(model.dtype).replace('torch.', '')}; "
          f"torch {torch.__version__}")
    print(f"self-edit{' (mixed LoRA specs)' if args.mixed_specs else ''}: {args.items}x{args.item_tokens} + "
          f"1x{args.passage_tokens} tokens, {args.epochs} epochs, rank {args.rank}, batch 1; {args.questions} "
          f"questions x {args.question_tokens} tokens -> {args.new_tokens} new tokens")
    print("| engine | self-edits timed | self-edits/s | train ms/edit | answer ms/edit | speed-up vs first row | peak MiB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        total = r["train"] + r["answer"]
        print(f"| {r['engine']} | {r['n']} | {1 / total:.3f} | {1000 * r['train']:.0f} | {1000 * r['answer']:.0f} "
              f"| {ref / total:.2f}x | {r['peak'] / 2**20:.0f} |")


if __name__ == "__main__":
    main()
