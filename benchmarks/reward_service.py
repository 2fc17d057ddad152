"""The reward service, measured: throughput and latency against one env step per self-edit, and a load test.

``throughput``: R self-edits (the model's own, for demo passages) sent by N concurrent clients to a
:class:`~seal_gym.serve.RewardService` on the embedded model, against the same R scored by
``env.step`` one at a time on the same engine (the baseline), in one process: rewards per second, p50 / p95
latency, the mean batch, and the rewards of both (they must agree: same task, text and seed).

``load``: a bounded burst over HTTP against a real uvicorn server on 127.0.0.1 with a scripted engine (the
machinery, not the model): valid, empty, huge and malformed self-edits, bad tasks, clients that disconnect
before their answer and requests that time out; then checks that every request the server accepted was
answered exactly once (none lost, none twice), that the server still answers, and that its memory stayed flat.

    python benchmarks/reward_service.py throughput --clients 1 4 16 --requests 16 --threads 2
    python benchmarks/reward_service.py load --requests 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path



def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def throughput(clients: list[int], requests: int, max_batch: int, env_kwargs: dict) -> list[dict]:
    import gymnasium as gym

    import seal_gym  # noqa: F401
    from seal_gym.serve import RewardService, ServiceConfig

    env = gym.make("SealSquad-v0", **env_kwargs)
    domain = env.unwrapped.domain
    work = [({"passage_index": i % len(domain.passages)}, f"{domain.passages[i % len(domain.passages)].title}: "
             f"{domain.passages[i % len(domain.passages)].context.split('.')[0]}. Item {i}.", i) for i in range(requests)]
    # Every inner loop also grades the untrained model on its passage (baseline_accuracy), once per passage and
    # weights version, then cached: warm that cache first, so the baseline pays no cost the service runs skip.
    for index in sorted({task["passage_index"] for task, _, _ in work}):
        domain.inner_loop.baseline(domain.passages[index])
    rows = []
    started = time.perf_counter()
    base_rewards, latencies = [], []
    for task, text, seed in work:  # the baseline: one env step per self-edit
        begin = time.perf_counter()
        env.reset(options={**task, "inner_seed": seed})
        base_rewards.append(env.step(text)[1])
        latencies.append(time.perf_counter() - begin)
    wall = time.perf_counter() - started
    rows.append({"mode": "env.step, one at a time", "clients": 1, "requests": requests, "wall_s": wall,
                 "rewards_per_s": requests / wall, "p50_s": percentile(latencies, 0.5),
                 "p95_s": percentile(latencies, 0.95), "mean_batch": 1.0, "same_rewards": True})
    for n in clients:
        async def run(n=n):
            async with RewardService(domain, ServiceConfig(max_batch=max_batch, max_wait_ms=200, cache_size=0)) as svc:
                queue = list(work)
                answers: dict[int, tuple] = {}

                async def client():
                    while queue:
                        task, text, seed = queue.pop(0)
                        result = await svc.score(task, text, seed)
                        answers[seed] = (result.reward, result.seconds)
                begin = time.perf_counter()
                await asyncio.gather(*(client() for _ in range(n)))
                return answers, time.perf_counter() - begin, svc.metrics()

        answers, wall, metrics = asyncio.run(run())
        rewards = [answers[seed][0] for _, _, seed in work]
        seconds = [answers[seed][1] for _, _, seed in work]
        rows.append({"mode": f"service, max_batch {max_batch}", "clients": n, "requests": requests, "wall_s": wall,
                     "rewards_per_s": requests / wall, "p50_s": percentile(seconds, 0.5),
                     "p95_s": percentile(seconds, 0.95), "mean_batch": metrics["mean_batch_size"],
                     "same_rewards": max(abs(a - b) for a, b in zip(rewards, base_rewards)) < 1e-6})
    return rows


def load(requests: int, concurrency: int, seed: int = 0) -> dict:
    """The burst; returns its figures (raises AssertionError when a promise breaks)."""
    import random

    import httpx

    from seal_gym.envs.squad import SealSquadEnv
    from seal_gym.models import load_model
    from seal_gym.serve import RewardService, ServiceConfig
    from seal_gym.serve.http import ServerThread, make_app
    from seal_gym.testing import ScriptedEngine

    class SlowEngine(ScriptedEngine):
        def adapt(self, batch):
            time.sleep(0.002 * len(batch))  # a little work per adapter, so queues form
            return super().adapt(batch)

    engine = SlowEngine(lambda request, query: "no idea")
    domain = SealSquadEnv(model=load_model("tiny-random", device="cpu"), engine=engine).domain
    service = RewardService(domain, ServiceConfig(max_batch=16, max_wait_ms=5, max_queue=256, cache_size=512))
    rng = random.Random(seed)
    kinds = ["valid"] * 6 + ["empty", "huge", "malformed", "bad-task", "disconnect", "timeout"]

    def body(i: int, kind: str) -> dict:
        task = {"passage_index": rng.randrange(20)} if kind != "bad-task" else {"passage_index": 10**6}
        text = {"empty": "", "huge": "fact " * 50_000}.get(kind, f"self-edit {i} " * rng.randint(1, 20))
        request = {"task": task, "self_edit": text, "seed": rng.randrange(4)}
        if kind == "malformed":
            request.pop("self_edit")
        if kind == "timeout":
            request["timeout"] = 0.0001
        return request

    sent = [(i, kind := rng.choice(kinds), body(i, kind)) for i in range(requests)]
    statuses: dict[str, int] = {}
    answered: dict[int, int] = {}

    with ServerThread(make_app(service)) as url:
        def rss_kb() -> int:
            return int(Path("/proc/self/statm").read_text().split()[1]) * 4

        async def burst(part):
            limits = httpx.Limits(max_connections=concurrency)
            async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
                gate = asyncio.Semaphore(concurrency)

                async def one(i, kind, request):
                    async with gate:
                        try:
                            if kind == "disconnect":  # the client gives up before the answer
                                await asyncio.wait_for(client.post("/score", json=request), 0.02)
                            response = await client.post("/score", json=request)
                        except (asyncio.TimeoutError, httpx.HTTPError) as err:
                            statuses[type(err).__name__] = statuses.get(type(err).__name__, 0) + 1
                            return
                        key = str(response.status_code) + ("" if response.status_code != 200 else
                                                          " ok" if response.json()["ok"] else " " +
                                                          response.json()["reason"].split(":")[0])
                        statuses[key] = statuses.get(key, 0) + 1
                        answered[i] = answered.get(i, 0) + 1

                await asyncio.gather(*(one(*item) for item in part))

        begin = time.perf_counter()
        asyncio.run(burst(sent[: requests // 2]))
        memory_half = rss_kb()
        asyncio.run(burst(sent[requests // 2:]))
        memory_end = rss_kb()
        wall = time.perf_counter() - begin
        health = httpx.get(f"{url}/health", timeout=10).json()
        metrics = httpx.get(f"{url}/metrics", timeout=10).json()
    scored = metrics["requests"].get("requests", 0)
    duplicated = [i for i, n in answered.items() if n > 1]
    assert not duplicated, f"answered twice: {duplicated[:5]}"
    assert health["status"] == "ok" and metrics["queue_depth"] == 0 and metrics["in_flight"] == 0
    assert memory_end - memory_half < 50_000, (memory_half, memory_end)  # kB: flat between the halves
    return {"requests sent": requests, "answers by status": dict(sorted(statuses.items())),
            "requests the service scored or refused": scored, "answered twice": len(duplicated),
            "engine calls": len(engine.calls), "mean batch": round(metrics["mean_batch_size"] or 0, 2),
            "RSS after half / all (MiB)": f"{memory_half / 1024:.0f} / {memory_end / 1024:.0f}",
            "wall s": round(wall, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    speed = sub.add_parser("throughput")
    speed.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    speed.add_argument("--requests", type=int, default=16)
    speed.add_argument("--max-batch", type=int, default=8)
    speed.add_argument("--threads", type=int, default=2)
    speed.add_argument("--model", default=None)
    speed.add_argument("--env-kwargs", default='{"inner_preset": "small", "reward": "answer_logprob"}')
    speed.add_argument("--inner-epochs", type=int, default=None, help="the inner loop's epochs (default: the preset's)")
    burst = sub.add_parser("load")
    burst.add_argument("--requests", type=int, default=2000)
    burst.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args(argv)
    if args.what == "throughput":
        import torch

        torch.set_num_threads(args.threads)
        from seal_gym.squad.presets import inner_preset

        env_kwargs = {"model": args.model, "engine": "batched", **json.loads(args.env_kwargs)}
        if args.inner_epochs is not None:
            from dataclasses import replace

            base = inner_preset(env_kwargs.get("inner_preset", "seal")).train
            env_kwargs["train"] = replace(base, epochs=args.inner_epochs)
        rows = throughput(args.clients, args.requests, args.max_batch, env_kwargs)
        print("| mode | clients | requests | wall s | rewards/s | p50 s | p95 s | mean batch | same rewards |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['mode']} | {r['clients']} | {r['requests']} | {r['wall_s']:.1f} | {r['rewards_per_s']:.3f} | "
                  f"{r['p50_s']:.1f} | {r['p95_s']:.1f} | {r['mean_batch']:.1f} | {r['same_rewards']} |")
        base = rows[0]["rewards_per_s"]
        print("speed-up over env.step: " + ", ".join(f"{r['clients']} clients {r['rewards_per_s'] / base:.2f}x"
                                                     for r in rows[1:]))
    else:
        for name, value in load(args.requests, args.concurrency).items():
            print(f"{name:<40} {value}")


if __name__ == "__main__":
    main()
