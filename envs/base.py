"""The one env class behind SealSquad-v0 and SealARC-v0: a self-edit per episode, scored by a domain."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from seal_gym.domain import Domain, Episode, draw_episode
from seal_gym.spaces import FreeText


class SealEnv(gym.Env[str, str]):
    """A one-step text env over a :class:`~seal_gym.domain.Domain`: reset shows a task's prompt, step scores
    one action (a self-edit) through the domain's inner loop and ends the episode.

    Subclasses (:class:`~seal_gym.envs.squad.SealSquadEnv`, :class:`~seal_gym.envs.arc.SealARCEnv`) build
    their domain and carry the documentation. Reset ``options`` are the domain's (which task) plus
    ``inner_seed`` (the inner-loop seed; drawn with ``self.np_random`` otherwise).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1, "model_kwarg": "model", "engine_kwarg": "engine"}
    """``model_kwarg``: the keyword that takes the model the inner loop adapts (agents pass their policy's
    own model there in self mode; see :mod:`seal_gym.agents.env_traits`)."""

    def __init__(self, domain: Domain, render_mode: str | None = None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}")
        self.domain = domain
        self.render_mode = render_mode
        self.observation_space = FreeText(domain.max_observation_chars)
        self.action_space = FreeText(domain.max_action_chars)
        self.episode: Episode | None = None
        self.last_result: Any = None
        """The last step's typed result, wall-clock timings included (``info`` leaves them out)."""
        self._observation = ""
        self._last_render = ""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Draw a task (or take the one ``options`` pins) and return its prompt."""
        super().reset(seed=seed)
        self.episode = draw_episode(self.domain, self.np_random, options)
        self._observation = self.domain.observation(self.episode.task)
        self.last_result = None
        info = self.domain.reset_info(self.episode.task)
        self._last_render = f"new episode: {info}"[:200]
        return self._observation, info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self.episode is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        scored = self.domain.score([(self.episode.task, action, self.episode.inner_seed)])[0]
        self.last_result = scored.result
        self._last_render = scored.summary
        self.episode = None  # one self-edit per episode
        return self._observation, scored.reward, True, False, scored.info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self._last_render
        return None
