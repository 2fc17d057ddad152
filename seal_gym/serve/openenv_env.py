"""SealSquad-v0 and SealARC-v0 as OpenEnv environments (``pip install 'seal-gym[openenv]'``), served by
OpenEnv's own server with concurrent sessions.

Every session gets an :class:`SealOpenEnv` of its own (its task and inner seed), and all of them share ONE
:class:`~seal_gym.serve.RewardService`: a session's ``step`` awaits the service, so the self-edits of many
sessions stepping at once are trained together in few engine calls, and the server's event loop never blocks
on training. A failed reward (timeout, engine failure) is an observation with ``reward=None`` and the reason in
``reason``, never a 0.

    app = openenv_app("SealSquad-v0", model="tiny-random")     # an OpenEnv FastAPI app; serve with uvicorn
    # client: openenv's GenericEnvClient(base_url="ws://127.0.0.1:PORT"):
    #   reset(passage_index=3) -> the prompt; step({"self_edit": "..."}) -> reward, done
"""

# No `from __future__ import annotations`: pydantic and FastAPI read these annotations at run time.
from typing import Any, Optional

import numpy as np

from seal_gym.domain import MAX_SEED
from seal_gym.serve.service import RewardService, ServiceConfig, json_ready

try:
    from openenv.core.env_server.http_server import create_app
    from openenv.core.env_server.interfaces import Environment
    from openenv.core.env_server.types import Action, Observation, State
except ModuleNotFoundError as err:  # pragma: no cover - the extra is missing
    raise ModuleNotFoundError("seal_gym's OpenEnv environments need openenv-core: pip install 'seal-gym[openenv]'") \
        from err

TASK_OPTIONS = ("passage_index", "task_id", "task_index", "generator_seed")
"""Reset keywords that pin the task (the env's reset options)."""


class SelfEditAction(Action):
    """A self-edit: the text the model writes (SealARC: the recipe as JSON text)."""

    self_edit: str


class SealObservation(Observation):
    """What a session sees: after ``reset`` the prompt to write a self-edit for; after ``step`` the reward
    (``None`` when there is none: ``reason`` says why) and ``done=True``."""

    prompt: str = ""
    task: dict[str, Any] = {}
    inner_seed: int = 0
    ok: Optional[bool] = None
    reason: Optional[str] = None
    info: dict[str, Any] = {}


class SealState(State):
    """A session's episode: its task (reset options) and inner-loop seed."""

    task: dict[str, Any] = {}
    inner_seed: int = 0


class SealOpenEnv(Environment):
    """One session's env over a shared reward service (see the module docstring)."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, service: RewardService) -> None:
        super().__init__()
        self.service = service
        self._state = SealState()

    def reset(self, seed: Optional[int] = None, episode_id: Optional[str] = None, **kwargs: Any) -> SealObservation:
        """Pin the task with a reset keyword (``passage_index=3``, ``task_id=...``), or draw one with ``seed``;
        ``inner_seed`` pins the inner loop's seed (else drawn with ``seed``)."""
        rng = np.random.default_rng(seed)
        task = {k: v for k, v in kwargs.items() if k in TASK_OPTIONS}
        if not task:
            drawn = self.service.domain.draw(rng, {})
            task = {k: v for k, v in self.service.domain.reset_info(drawn).items() if k in TASK_OPTIONS}
        inner_seed = int(kwargs["inner_seed"]) if kwargs.get("inner_seed") is not None else int(rng.integers(MAX_SEED))
        prompt, info = self.service.prompt(task)
        self._state = SealState(episode_id=episode_id, step_count=0, task=task, inner_seed=inner_seed)
        return SealObservation(prompt=prompt, task=task, inner_seed=inner_seed, info=json_ready(info), done=False)

    def step(self, action: SelfEditAction, timeout_s: Optional[float] = None, **kwargs: Any) -> SealObservation:
        raise RuntimeError("SealOpenEnv steps asynchronously (step_async): serve it with openenv's server")

    async def step_async(self, action: SelfEditAction, timeout_s: Optional[float] = None,
                         **kwargs: Any) -> SealObservation:
        await self.service.start()  # idempotent: the service runs on the server's event loop
        result = await self.service.score(self._state.task, action.self_edit, self._state.inner_seed,
                                          timeout=timeout_s if timeout_s is not None else -1.0)
        self._state.step_count += 1
        return SealObservation(prompt="", task=self._state.task, inner_seed=self._state.inner_seed, done=True,
                               reward=result.reward, ok=result.ok, reason=result.reason, info=result.info)

    @property
    def state(self) -> SealState:
        return self._state


def openenv_app(env_id: str = "SealSquad-v0", config: ServiceConfig | None = None, max_sessions: int = 64,
                **env_kwargs: Any):
    """OpenEnv's FastAPI app for a seal_gym env: up to ``max_sessions`` concurrent WebSocket sessions, one
    reward service (``config``) over ``gym.make(env_id, **env_kwargs)``'s domain shared by all of them."""
    service = RewardService.from_env(env_id, config, **env_kwargs)
    return create_app(lambda: SealOpenEnv(service), SelfEditAction, SealObservation, env_name=env_id,
                      max_concurrent_envs=max_sessions)
