"""Why batching passages moves the embedded model's scores: where two trainings of one adapter part ways.

``eval squad --groups-per-call 4`` scored some passages up to 0.38 away from ``--groups-per-call 1``
(benchmarks/RESULTS.md). Each adapter keeps its own seed, data order and optimizer state in a batch, so the
two should differ only in float rounding (other padded widths, other matmul shapes). This trains each
passage's adapter (its first self-edit from the dataset file + the passage, inner preset ``small``, inner seed
0) three ways with the batched engine: alone, alone again (is one setting deterministic?), and with the other
passages in one call; and prints, per passage, the training-loss difference at the first step, the largest
over the run and at the last step, the largest difference in one gold answer's log-probability, and how many
greedy answers changed.

    python benchmarks/batching_divergence.py --dataset ../shared/data/squad/train.json@tune \
        --self-edits-file ../shared/data/squad/train.json --passages 4
"""

from __future__ import annotations

import argparse


def compare(a, b) -> list[str]:
    """One table row's differences between two outcomes of the same request."""
    losses = [abs(x - y) for x, y in zip(a.losses, b.losses)]
    logprobs = [abs(x - y) for x, y in zip(a.target_logprobs, b.target_logprobs) if x is not None and y is not None]
    changed = sum(x != y for x, y in zip(a.answers, b.answers))
    return [f"{losses[0]:.1e}", f"{max(losses):.1e}", f"{losses[-1]:.1e}", f"{max(logprobs, default=0):.3f}",
            f"{changed}/{len(a.answers)}"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="passages, e.g. SEAL's train.json@tune (never a held-out split)")
    parser.add_argument("--self-edits-file", required=True,
                        help="a SEAL-format file with each passage's self-edits, e.g. SEAL's train.json")
    parser.add_argument("--passages", type=int, default=4)
    parser.add_argument("--model", default=None, help="default: the embedded SmolLM2-135M-Instruct")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import torch

    from seal_gym.self_edits import completions_from_file
    from seal_gym.squad.inner_loop import KnowledgeInnerLoop
    from seal_gym.squad.passages import load_passages
    from seal_gym.squad.presets import inner_preset
    from seal_gym.stats import format_table

    torch.set_num_threads(args.threads)
    config = inner_preset("small").knowledge_config(score_logprob=True)
    loop = KnowledgeInnerLoop(args.model, engine="batched", config=config)
    passages = load_passages(args.dataset)[: args.passages]
    edits = [found[0] if found else "" for found in completions_from_file(args.self_edits_file, passages, 1)]
    requests = [loop.request(edit, passage, seed=0) for edit, passage in zip(edits, passages)]
    alone = [loop.engine.adapt([request])[0] for request in requests]
    again = [loop.engine.adapt([request])[0] for request in requests]
    together = loop.engine.adapt(requests)
    header = ["passage", "compared with alone", "loss diff, step 1", "max over steps", "last step",
              "max logprob diff", "answers changed"]
    rows = []
    for passage, first, second, batched in zip(passages, alone, again, together):
        rows.append([passage.title[:24], "alone again", *compare(first, second)])
        rows.append([passage.title[:24], f"{len(requests)} in one call", *compare(first, batched)])
    steps = len(alone[0].losses)
    print(f"{len(passages)} passages, one self-edit each + the passage, inner preset small ({steps} steps for the "
          f"first), inner seed 0, batched engine, {args.threads} threads")
    print(format_table(header, rows))


if __name__ == "__main__":
    main()
