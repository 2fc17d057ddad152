"""Where one batched inner-loop call spends its time, under ``torch.profiler``.

One :class:`seal_gym.adapt.BatchedEngine` call of the largest ``--ks`` K self-edits (``workload.py``'s, after a
warm-up call): train vs answer seconds, the operators with the most self time (device time on CUDA), and how busy
the device was (device time / wall time; low means launch- or Python-bound, not compute-bound).

Usage::

    python benchmarks/inner_loop_profile.py --device cuda --ks 64 --epochs 1
    python benchmarks/inner_loop_profile.py --quick --model tiny-random
"""

from __future__ import annotations

from torch.profiler import ProfilerActivity, profile

from seal_gym.adapt.batched import BatchedEngine
from workload import clock, device_name, load, options, parse, self_edits, warm_up  # benchmarks/workload.py


def main(argv: list[str] | None = None) -> None:
    args = parse(options(__doc__), argv=argv)
    model, tok = load(args)
    k, cuda = max(args.ks), model.device.type == "cuda"
    requests = self_edits(args, k)
    engine = BatchedEngine(model, tok, max_adapters=k, answer_batch_size=max(256, k * args.questions))
    warm_up(engine, requests, k)
    with profile(activities=[ProfilerActivity.CPU, *([ProfilerActivity.CUDA] if cuda else [])]) as prof:
        start = clock(model)
        outcomes = engine.adapt(requests)
        wall = clock(model) - start
    events = prof.key_averages()
    train, answer = sum(o.train_seconds for o in outcomes), sum(o.answer_seconds for o in outcomes)
    print(f"device: {device_name(model.device)}; model {args.model}; one batched call of K={k} self-edits, "
          f"{args.epochs} epochs, {args.questions} questions x {args.new_tokens} new tokens each (under the "
          "profiler, which slows it)")
    print(f"wall {wall:.2f} s: train {train:.2f} s, answer {answer:.2f} s; {k / wall:.2f} self-edits/s")
    if cuda:
        busy = sum(e.self_device_time_total for e in events) / 1e6
        print(f"device busy {busy:.2f} s of {wall:.2f} s wall ({busy / wall:.0%}); below ~80 %: launch-bound")
    print(events.table(sort_by="self_device_time_total" if cuda else "self_cpu_time_total", row_limit=25))


if __name__ == "__main__":
    main()
