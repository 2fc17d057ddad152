"""Memory over a long training run: process RSS and the inner loop's cache sizes after many policy updates.

Every policy update changes the weights version, so every cached base answer and passage reference of the
version before is dead; the caches are bounded (``seal_gym.squad.inner_loop.CACHE_ENTRIES`` entries each), so
they fill up to that bound and stay there, and RSS stops growing with them. Each update here is what an
agent's optimizer step does to the policy adapter (an in-place change, then ``updated()``); after it the inner
loop asks the base answers of ``--passages`` passages and the passage-only references of ``--references`` of
them, as a round of training does. The tiny random model keeps it to a minute on a CPU.

    python benchmarks/cache_memory.py --updates 600 --passages 4 --references 1 --every 100
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

import torch

from seal_gym.adapt import LoraSpec, PolicyAdapter, TrainSpec
from seal_gym.models import load_model
from seal_gym.squad.inner_loop import CACHE_ENTRIES, KnowledgeConfig, KnowledgeInnerLoop
from seal_gym.squad.passages import demo_passages
from seal_gym.stats import format_table


def rss_mib() -> float:
    """This process's resident set size (Linux ``/proc``), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status: this benchmark reads Linux's process status")


def main(argv: list[str] | None = None) -> list[list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=600, help="policy updates in the run")
    parser.add_argument("--passages", type=int, default=4, help="passages whose base answers each update asks")
    parser.add_argument("--references", type=int, default=1, help="of them, passages whose reference is trained")
    parser.add_argument("--every", type=int, default=100, help="updates between table rows")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    bundle = load_model("tiny-random", device="cpu")
    policy = PolicyAdapter(bundle.model, LoraSpec(rank=4, alpha=8))
    config = KnowledgeConfig(lora=LoraSpec(rank=2, alpha=4), train=TrainSpec(epochs=1), max_answer_tokens=4)
    loop = KnowledgeInnerLoop(bundle, engine="batched", config=config)
    passages = demo_passages()[: args.passages]
    generator = torch.Generator().manual_seed(0)
    rows, start = [], time.perf_counter()
    for update in range(args.updates + 1):
        if update:
            with torch.no_grad():  # what an optimizer step does to the policy
                for p in policy.parameters():
                    p.add_(torch.randn(p.shape, generator=generator) * 1e-3)
            policy.updated()
        for passage in passages:
            loop.baseline(passage)
        loop.passage_reference([(p, 0) for p in passages[: args.references]])
        if update % args.every == 0:
            gc.collect()
            rows.append([str(update), f"{rss_mib():.0f}", str(len(loop._baseline_cache)),
                         str(len(loop._reference_cache)), f"{time.perf_counter() - start:.0f}"])
    print(f"bound: {CACHE_ENTRIES} entries per cache; {args.passages} base answers and {args.references} "
          f"references asked per update")
    print(format_table(["updates", "RSS MiB", "base-answer entries", "reference entries", "seconds"], rows))
    return rows


if __name__ == "__main__":
    main()
