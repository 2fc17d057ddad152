"""SealSquad-v0 as a native vector env: K passages, K self-edits, one inner-loop call per step."""

from __future__ import annotations

from typing import Any, Literal, Sequence

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from seal_gym.adapt import LoraSpec, TrainSpec
from seal_gym.envs.squad import MAX_OBSERVATION_CHARS, result_info
from seal_gym.grading import Grader
from seal_gym.knowledge import KnowledgeConfig, KnowledgeInnerLoop, KnowledgeItem
from seal_gym.passages import Passage, load_passages
from seal_gym.prompts import PromptStyle, get_prompt_style
from seal_gym.spaces import FreeText
from seal_gym.text import clean_self_edit
from seal_gym.vector import object_array, stack_infos, sub_env_rngs


class SealSquadVectorEnv(VectorEnv):
    """``num_envs`` SealSquad episodes stepped together; their self-edits go through ONE inner-loop call,
    so the batched engine trains all of them at once over one frozen base model.

    Same passages, prompts, actions, rewards and ``info`` keys as :class:`~seal_gym.envs.squad.SealSquadEnv`
    (see its docstring for the arguments). Every episode lasts one step, so sub-envs reset in the same step
    (``AutoresetMode.SAME_STEP``): ``step`` returns the next passages' prompts, with the finished episodes'
    observations in ``infos["final_obs"]`` and their step infos in ``infos["final_info"]``. Self-edits that
    are empty after cleaning score 0 and never reach the engine.

    Seeding: ``reset(seed=s)`` seeds sub-env ``i`` with ``s + i`` (or pass a list of seeds).
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int = 1,
        model: Any = None,
        dataset: str | list[Passage] = "demo",
        prompt_style: str | PromptStyle = "implications",
        grader: str | Grader = "contains",
        reward: Literal["accuracy", "gain"] = "accuracy",
        engine: str = "auto",
        lora: LoraSpec | None = None,
        train: TrainSpec | None = None,
        max_self_edit_chars: int = 16_000,
        render_mode: str | None = None,
    ):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if reward not in ("accuracy", "gain"):
            raise ValueError(f"reward must be 'accuracy' or 'gain', got {reward!r}")
        if render_mode is not None:
            raise ValueError("SealSquadVectorEnv does not render; use render_mode=None")
        self.num_envs = num_envs
        self.render_mode = None
        self.passages = load_passages(dataset)
        self.style = get_prompt_style(prompt_style)
        config = KnowledgeConfig(lora=lora or LoraSpec(), train=train or TrainSpec(), prompt_style=self.style)
        self.inner_loop = KnowledgeInnerLoop(model, engine=engine, grader=grader, config=config)
        self.reward_kind = reward
        self.max_self_edit_chars = max_self_edit_chars
        self.single_observation_space = FreeText(MAX_OBSERVATION_CHARS)
        self.single_action_space = FreeText(max_self_edit_chars)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._rngs: list[np.random.Generator] = []
        self._indices: list[int] = [0] * num_envs
        self._inner_seeds: list[int] = [0] * num_envs

    def _observation(self, i: int) -> str:
        passage = self.passages[self._indices[i]]
        return self.style.render(passage.title, passage.context)

    def _new_episode(self, i: int) -> dict[str, Any]:
        self._indices[i] = int(self._rngs[i].integers(len(self.passages)))
        self._inner_seeds[i] = int(self._rngs[i].integers(2**31 - 1))
        passage = self.passages[self._indices[i]]
        return {"passage_index": self._indices[i], "title": passage.title, "passage": passage.context,
                "num_questions": len(passage.questions)}

    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None):
        """New passages for every sub-env."""
        if seed is not None or not self._rngs:
            self._rngs = sub_env_rngs(seed, self.num_envs)
        infos = [self._new_episode(i) for i in range(self.num_envs)]
        return tuple(self._observation(i) for i in range(self.num_envs)), stack_infos(infos)

    def step(self, actions: Sequence[str]):
        """Apply all self-edits in one inner-loop call, then start the next passages."""
        if not self._rngs:
            raise RuntimeError("call reset() before step()")
        if isinstance(actions, str) or len(actions) != self.num_envs:
            raise ValueError(f"step needs a sequence of {self.num_envs} self-edit strings")
        cleaned = [clean_self_edit(a, self.max_self_edit_chars) for a in actions]  # TypeError on non-str
        step_infos: list[dict[str, Any]] = [{"passage_index": self._indices[i], "action_notes": c.notes}
                                            for i, c in enumerate(cleaned)]
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        live = [i for i, c in enumerate(cleaned) if self.style.split_items(c.text)]
        items = [KnowledgeItem(cleaned[i].text, self.passages[self._indices[i]], self._inner_seeds[i]) for i in live]
        for i, result in zip(live, self.inner_loop.run(items)):
            step_infos[i].update(result_info(result))
            rewards[i] = result.gain if self.reward_kind == "gain" else result.adapter_accuracy
        for i in set(range(self.num_envs)) - set(live):
            step_infos[i].update(error="empty self-edit: nothing to train on")
        final_obs = object_array([self._observation(i) for i in range(self.num_envs)])
        infos = stack_infos([self._new_episode(i) for i in range(self.num_envs)])
        infos.update(final_obs=final_obs, _final_obs=np.ones(self.num_envs, dtype=bool),
                     final_info=stack_infos(step_infos), _final_info=np.ones(self.num_envs, dtype=bool))
        observations = tuple(self._observation(i) for i in range(self.num_envs))
        return observations, rewards, np.ones(self.num_envs, dtype=bool), np.zeros(self.num_envs, dtype=bool), infos
