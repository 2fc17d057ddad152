"""SealSquad-v0 as an OpenEnv environment (issue 34.2), against the real openenv-core package: its own server,
its own client, several WebSocket sessions at once sharing one reward service, on a scripted engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

pytest.importorskip("openenv")

from seal_gym.serve import ServiceConfig  # noqa: E402
from seal_gym.serve.http import ServerThread  # noqa: E402
from tests.test_domains import PASSAGES, squad_engine  # noqa: E402


def openenv_parts():
    """OpenEnv's client and seal_gym's app factory, imported by the tests that run (not at collection, in every
    pytest-xdist worker: openenv's server and client import gradio and fastmcp, about 5 CPU-seconds)."""
    from openenv.core.generic_client import GenericEnvClient

    from seal_gym.serve.openenv_env import openenv_app

    return GenericEnvClient, openenv_app


def test_concurrent_openenv_sessions_share_one_batched_reward_service(tiny_bundle):
    GenericEnvClient, openenv_app = openenv_parts()
    engine = squad_engine()
    app = openenv_app("SealSquad-v0", ServiceConfig(max_batch=8, max_wait_ms=300), max_sessions=8,
                      model=tiny_bundle, engine=engine)

    async def session(url, i):
        async with GenericEnvClient(base_url=url) as env:
            first = await env.reset(passage_index=i, inner_seed=7)
            assert PASSAGES[i].context in first.observation["prompt"] and not first.done
            result = await env.step({"self_edit": "GOOD: every fact." if i % 2 == 0 else "no facts"})
            state = await env.state()
            return first, result, state

    async def sessions(url):
        return await asyncio.gather(*(session(url, i) for i in range(6)))

    with ServerThread(app) as url:
        answers = asyncio.run(sessions(url))
    for i, (first, result, state) in enumerate(answers):
        assert result.done and result.reward == (1.0 if i % 2 == 0 else 0.0)
        assert result.observation["ok"] is True and result.observation["reason"] is None
        assert state["task"] == {"passage_index": i} and state["inner_seed"] == 7
    assert sum(len(call) for call in engine.calls) == 6 and len(engine.calls) <= 2  # batched across sessions


def test_a_failed_reward_is_none_with_the_reason(tiny_bundle):
    from seal_gym.testing import ScriptedEngine

    GenericEnvClient, openenv_app = openenv_parts()

    def broken(request, query):
        raise RuntimeError("engine down")

    app = openenv_app("SealSquad-v0", model=tiny_bundle, engine=ScriptedEngine(broken))

    async def one(url):
        async with GenericEnvClient(base_url=url) as env:
            await env.reset(passage_index=0)
            return await env.step({"self_edit": "GOOD"})

    with ServerThread(app) as url:
        result = asyncio.run(one(url))
    assert result.reward is None and result.done
    assert result.observation["reason"] == "engine failure: RuntimeError: engine down"


def test_the_module_has_no_doctest_to_skip():
    """pyproject's addopts leave seal_gym/serve/openenv_env.py out of doctest collection (to spare every worker its
    import): that hides nothing only while it has no example."""
    from seal_gym.serve import openenv_env

    assert ">>>" not in Path(openenv_env.__file__).read_text()
