"""The reward service over HTTP (issue 34): a real uvicorn server on 127.0.0.1, real httpx clients sending
concurrent requests, and `seal-gym serve` itself on the tiny model."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from seal_gym.envs.squad import SealSquadEnv
from seal_gym.serve import RewardService, ServiceConfig
from seal_gym.serve.http import ServerThread, make_app
from tests.test_domains import squad_engine

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def app(tiny_bundle):
    engine = squad_engine()
    engine.calls_seen = engine.calls
    domain = SealSquadEnv(model=tiny_bundle, engine=engine).domain
    return make_app(RewardService(domain, ServiceConfig(max_batch=4, max_wait_ms=200), name="SealSquad-v0")), engine


def test_concurrent_http_clients_get_their_own_rewards_in_few_engine_calls(app):
    app, engine = app

    async def clients(url):
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            bodies = [{"task": {"passage_index": i % 5}, "self_edit": "GOOD facts" if i % 3 else "nothing", "seed": i}
                      for i in range(12)]
            answers = await asyncio.gather(*(client.post("/score", json=b) for b in bodies))
            health, metrics = await client.get("/health"), await client.get("/metrics")
            prompt = await client.post("/prompt", json={"task": {"passage_index": 2}})
            bad = await client.post("/score", json={"task": {"passage_index": -1}, "self_edit": "x"})
            malformed = await client.post("/score", json={"task": {}, "seed": 1})
            return answers, health.json(), metrics.json(), prompt, bad.json(), malformed.status_code

    with ServerThread(app) as url:
        answers, health, metrics, prompt, bad, malformed = asyncio.run(clients(url))
    assert [a.status_code for a in answers] == [200] * 12
    assert [a.json()["reward"] for a in answers] == [0.0 if i % 3 == 0 else 1.0 for i in range(12)]
    assert all(a.json()["ok"] for a in answers)
    assert sum(len(call) for call in engine.calls) == 12 and len(engine.calls) <= 6 and max(len(call) for call in engine.calls) <= 4
    assert health == {"status": "ok", "env": "SealSquad-v0", "weights_version": "0"}
    assert metrics["requests"]["ok"] == 12 and metrics["max_batch_size"] <= 4
    assert prompt.status_code == 200 and prompt.json()["info"]["passage_index"] == 2
    assert not bad["ok"] and bad["reason"].startswith("bad task: ValueError: passage_index must be in")
    assert malformed == 422  # no self_edit: FastAPI's validation error


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_seal_gym_serve_answers_curl_style_requests_on_the_tiny_model(tmp_path):
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "seal_gym.cli", "serve", "--model", "tiny-random", "--port",
                                str(port), "--env-kwargs", json.dumps({"reward": "answer_logprob", "inner_preset": "small"}),
                                "--max-wait-ms", "100"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, cwd=tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        answer = httpx.post(f"{url}/score", json={"task": {"passage_index": 0}, "self_edit": "Brenn has a library.",
                                                  "seed": 3}, timeout=300).json()
        assert answer["ok"] and answer["reward"] < 0 and answer["reason"] is None  # a log-probability
        again = httpx.post(f"{url}/score", json={"task": {"passage_index": 0}, "self_edit": "Brenn has a library.",
                                                 "seed": 3}, timeout=60).json()
        assert again["cached"] and again["reward"] == answer["reward"]
    finally:
        process.terminate()
        output = process.communicate(timeout=60)[0]
    # uvicorn shuts down cleanly on SIGTERM, then re-raises it for the exit status (-15)
    assert process.returncode in (0, -15) and "Traceback" not in output, output


@pytest.mark.parametrize("argv,message", [
    (["--env", "CartPole-v1"], "serve takes a seal_gym env with an inner loop"),
    (["--env-kwargs", "{not json"], "--env-kwargs is not JSON"),
    (["--port", "70000"], "--port must be in [1, 65535]"),
    (["--max-batch", "0"], "max_batch and max_queue must be >= 1"),
])
def test_serve_refuses_bad_input_in_one_line(capsys, argv, message):
    from seal_gym.cli import main

    assert main(["serve", "--model", "tiny-random", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
