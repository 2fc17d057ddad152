"""Time one SealSquad-v0 step with the embedded model and SEAL's defaults, split into its parts.

Prints a table: model load (from the safetensors cache), and per step the LoRA training, answering and
grading seconds (median over ``--repeats`` steps on different passages), next to a plain peft loop
(fresh ``get_peft_model``, HF's built-in loss, no seeded init) training the same sequences in the same
run, and the ratio between them.

    python benchmarks/squad_step.py --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def plain_peft_train_seconds(bundle, texts: list[str], epochs: int) -> float:
    """The baseline: what a user would write with peft directly, batch 1, lr 1e-3, constant schedule."""
    from peft import LoraConfig, get_peft_model

    from seal_gym.adapt import LoraSpec
    from seal_gym.adapt.sequential import remove_peft_adapter

    spec = LoraSpec()  # SEAL's defaults, as in the engine it is compared with
    start = time.perf_counter()
    config = LoraConfig(r=spec.rank, lora_alpha=spec.alpha, lora_dropout=spec.dropout,
                        target_modules=list(spec.target_modules))
    model = get_peft_model(bundle.model, config)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    for _ in range(epochs):
        for text in texts:
            batch = bundle.tokenizer(text + bundle.tokenizer.eos_token, return_tensors="pt")
            loss = model(**batch, labels=batch["input_ids"]).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    elapsed = time.perf_counter() - start
    remove_peft_adapter(model, bundle.model)
    bundle.model.eval()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="steps timed (one passage each)")
    parser.add_argument("--engines", default="auto,sequential", help="engines to time, comma-separated")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from seal_gym.squad.inner_loop import KnowledgeInnerLoop, KnowledgeItem
    from seal_gym.models import load_model
    from seal_gym.squad.passages import demo_passages

    load_model(None, device="cpu")  # make sure the cache exists, so the timed load reads it
    start = time.perf_counter()
    bundle = load_model(None, device="cpu")
    load_seconds = time.perf_counter() - start

    loops = {engine: KnowledgeInnerLoop(bundle, engine=engine) for engine in args.engines.split(",")}
    passages = demo_passages()[: args.repeats]
    rows: dict[str, list[float]] = {"baseline answers (once per passage)": [], "plain peft train (baseline)": []}
    for passage in passages:
        t0 = time.perf_counter()
        for loop in loops.values():
            loop.baseline(passage)  # cached per passage; shared cost, timed once
        rows["baseline answers (once per passage)"].append((time.perf_counter() - t0) / len(loops))
        item = KnowledgeItem(passage.completions[0], passage, seed=0)
        for engine, loop in loops.items():
            t0 = time.perf_counter()
            result = loop.run([item])[0]
            step = time.perf_counter() - t0
            rows.setdefault(f"[{engine}] train", []).append(result.train_seconds)
            rows.setdefault(f"[{engine}] answer", []).append(result.answer_seconds)
            rows.setdefault(f"[{engine}] build + grade", []).append(step - result.train_seconds - result.answer_seconds)
            rows.setdefault(f"[{engine}] step", []).append(step)
        texts = [s.prompt for s in next(iter(loops.values())).training_sequences(item.self_edit, passage)]
        rows["plain peft train (baseline)"].append(plain_peft_train_seconds(bundle, texts, 10))

    print(f"device: cpu, {torch.get_num_threads()} threads, model {bundle.name}, SEAL defaults "
          f"(rank 32, 10 epochs, batch 1), {args.repeats} passages")
    print(f"{'part':<40}{'median s':>10}{'min s':>9}{'max s':>9}")
    print(f"{'model load (cache)':<40}{load_seconds:>10.2f}")
    for name, values in rows.items():
        print(f"{name:<40}{statistics.median(values):>10.2f}{min(values):>9.2f}{max(values):>9.2f}")
    for engine in loops:
        ratio = statistics.median(rows["plain peft train (baseline)"]) / statistics.median(rows[f"[{engine}] train"])
        print(f"[{engine}] training speed vs plain peft loop: {ratio:.2f}x")


if __name__ == "__main__":
    main()
