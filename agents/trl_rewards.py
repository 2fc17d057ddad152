"""SealSquad-v0 rewards for TRL's ``GRPOTrainer``: completions -> ONE vector-env step -> rewards.

Install with ``pip install 'seal-gym[trl]'``. TRL calls a reward function with the batch's prompts and
completions and passes every other dataset column as a keyword argument (one value per completion). The
dataset built by :meth:`SealSquadReward.prompt_dataset` carries each prompt's ``passage_index``, so the
adapter pins sub-env ``i`` of a SealSquad vector env to completion ``i``'s passage through per-sub-env
reset options and scores all completions in one ``step``: one inner-loop call, batched by the engine.

>>> import gymnasium as gym
>>> from seal_gym.models import load_model
>>> from seal_gym.testing import ScriptedEngine
>>> engine = ScriptedEngine(lambda request, query: "no idea")   # every adapted answer is wrong
>>> seal_reward = SealSquadReward(model=load_model("tiny-random", device="cpu"), engine=engine)
>>> seal_reward(prompts=["p", "p"], completions=["Some facts.", ""], passage_index=[3, 3])
[0.0, 0.0]
>>> len(engine.calls), len(engine.calls[0])   # one engine call; the empty self-edit is never trained on
(1, 1)
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np

from seal_gym.domain import MAX_SEED

RewardFunction = Callable[..., list[float | None]]
"""What TRL's ``GRPOTrainer`` accepts in ``reward_funcs``: ``(prompts, completions, **columns) -> rewards``."""

logger = logging.getLogger(__name__)


def completion_text(completion: Any) -> str:
    """The self-edit in a TRL completion: the text itself, or the last message's content in a conversational
    completion (a list of ``{"role", "content"}`` dicts; content given as text parts is joined).

    >>> completion_text([{"role": "assistant", "content": "Facts."}])
    'Facts.'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        content = completion[-1].get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):  # multimodal-style parts: [{"type": "text", "text": ...}, ...]
            return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    raise TypeError(f"a completion must be a string or a list of chat messages, got {completion!r:.80}")


class InnerSeeds:
    """The inner-loop seeds of a batch of completions: the dataset's ``inner_seed`` column where there is one,
    else one seed drawn per task and batch, so the G completions of one prompt are trained with the same seed and
    differ only by their text (GRPO compares them), while the next batch draws new seeds.

    >>> seeds = InnerSeeds(0)
    >>> first = seeds.for_batch([3, 3, 5, 5])
    >>> first[0] == first[1] != first[2] == first[3], first == seeds.for_batch([3, 3, 5, 5])
    (True, False)
    >>> seeds.for_batch([3, 5], inner_seed=[7, 8])
    [7, 8]
    """

    def __init__(self, seed: int = 0) -> None:
        self._rng = np.random.default_rng(seed)
        self._batch: dict[Any, int] = {}

    def draw(self, task: Any) -> int:
        """The current batch's seed for ``task`` (any hashable key), drawn at its first use in the batch."""
        if task not in self._batch:
            self._batch[task] = int(self._rng.integers(MAX_SEED))
        return self._batch[task]

    def new_batch(self) -> None:
        """Forget the batch's seeds: the next :meth:`draw` of a task draws a new one."""
        self._batch.clear()

    def for_batch(self, tasks: Sequence[Any], inner_seed: Sequence[int] | None = None) -> list[int]:
        """One seed per completion of a whole batch (one task key each): ``inner_seed`` if given, else drawn."""
        if inner_seed is not None:
            return [int(s) for s in inner_seed]
        seeds = [self.draw(t) for t in tasks]
        self.new_batch()
        return seeds


class SealSquadReward:
    """A TRL reward function whose reward is SealSquad-v0's: the accuracy of the model after learning from
    the completion (the self-edit), on the passage's questions asked without the passage.

    Args:
        envs: a SealSquad vector env to step (``num_envs`` must equal the number of completions per call,
            ``group_size=1``). ``None`` (default): one is built per batch size with
            ``gymnasium.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **env_kwargs)``.
        env_id: the registered env id used when ``envs`` is ``None``.
        seed: seeds the inner-loop seeds drawn when the dataset has no ``inner_seed`` column.
        name: the function's ``__name__``; TRL logs the reward as ``rewards/<name>/mean``.
        **env_kwargs: SealSquad-v0 arguments (``model``, ``engine``, ``dataset``, ``reward``, ...). Pass a
            loaded model bundle: ``model=None`` loads the embedded model for every env built.

    Calling it: ``(prompts, completions, passage_index, inner_seed=None, **kwargs) -> list[float]``.
    ``passage_index`` (and optionally ``inner_seed``) are dataset columns, one value per completion. Without
    an ``inner_seed`` column, each call draws one seed per passage, so the G completions of one prompt are
    trained with the same seed and differ only by their text. Other TRL keyword arguments are ignored,
    except ``log_metric`` (the fraction of completions that scored 0 with an error is logged as
    ``<name>/errors``) and ``log_extra`` (each completion's error, if any, goes into the completions table).

    Failures: a step that raises (an engine crash, out of memory, a judge that is down) gives every completion
    of the call ``None`` (TRL's "no reward": the completion is left out of the reward instead of being told it
    scored 0) and logs the reason, so training goes on. Programming errors raise: lengths
    that differ, a missing ``passage_index`` column, a passage index out of range, completions that are
    neither text nor messages, an env of the wrong size.
    """

    def __init__(self, envs: gym.vector.VectorEnv | None = None, *, env_id: str = "SealSquad-v0", seed: int = 0,
                 name: str = "seal_squad_reward", **env_kwargs: Any):
        if envs is not None and env_kwargs:
            raise TypeError(f"pass either a vector env or env arguments, not both (got {sorted(env_kwargs)})")
        self.__name__ = name
        self.env_id, self.env_kwargs = env_id, env_kwargs
        self._given_envs = envs
        self._built_envs: dict[int, gym.vector.VectorEnv] = {}
        self._seeds = InnerSeeds(seed)

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], passage_index: Sequence[int] | None = None,
                 inner_seed: Sequence[int] | None = None, **kwargs: Any) -> list[float | None]:
        n = len(completions)
        if n == 0:
            raise ValueError("no completions to score")
        if passage_index is None:
            raise ValueError("the dataset needs a 'passage_index' column (build it with SealSquadReward.prompt_dataset)")
        lengths = {"prompts": len(prompts), "passage_index": len(passage_index)}
        if inner_seed is not None:
            lengths["inner_seed"] = len(inner_seed)
        if any(length != n for length in lengths.values()):
            raise ValueError(f"expected one value per completion ({n}), got {lengths}")
        actions = [completion_text(c) for c in completions]
        indices = [int(i) for i in passage_index]
        seeds = self._seeds.for_batch(indices, inner_seed)
        envs = self._envs(n)
        self._pin(envs, [{"passage_index": i, "inner_seed": s} for i, s in zip(indices, seeds)])
        try:
            _, rewards, _, _, infos = envs.step(actions)
        except Exception as err:  # noqa: BLE001 - a failed verification is no reward, not a reward of 0
            logger.warning("%s: the env step failed, %d completions get no reward (None): %s: %s",
                           self.__name__, n, type(err).__name__, err)
            rewards, errors = [None] * n, [f"{type(err).__name__}: {err}"] * n
        else:
            errors = step_errors(infos.get("final_info", {}), n)
        if "log_metric" in kwargs:
            kwargs["log_metric"](f"{self.__name__}/errors", sum(bool(e) for e in errors) / n)
        if "log_extra" in kwargs:
            kwargs["log_extra"](f"{self.__name__}/error", errors)
        return [None if r is None else float(r) for r in rewards]

    def prompt_dataset(self, passage_indices: int | Sequence[int], conversational: bool = True):
        """The prompts of the given passages as a ``datasets.Dataset`` for TRL: ``"prompt"`` (the env's
        observation, as one user message, or plain text with ``conversational=False``) and
        ``"passage_index"``. ``passage_indices``: the indices, or ``n`` for the first ``n`` passages.

        The prompts come from the env itself (a reset with the passages pinned), so they are exactly what
        SealSquad-v0 shows for the env arguments given.
        """
        try:
            from datasets import Dataset
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError("prompt_dataset needs `datasets`: pip install 'seal-gym[trl]'") from err
        indices = list(range(passage_indices)) if isinstance(passage_indices, int) else [int(i) for i in passage_indices]
        if not indices:
            raise ValueError("passage_indices is empty: give at least one passage index")
        envs = self._given_envs if self._given_envs is not None else self._envs(len(indices))
        prompts: list[str] = []
        for start in range(0, len(indices), envs.num_envs):
            chunk = indices[start : start + envs.num_envs]
            pins = [{"passage_index": i} for i in chunk + chunk[:1] * (envs.num_envs - len(chunk))]
            prompts.extend(self._pin(envs, pins)[: len(chunk)])
        rows = [[{"role": "user", "content": p}] if conversational else p for p in prompts]
        return Dataset.from_dict({"prompt": rows, "passage_index": indices})

    def _envs(self, num_envs: int) -> gym.vector.VectorEnv:
        if self._given_envs is not None:
            if self._given_envs.num_envs != num_envs:
                raise ValueError(f"the vector env has num_envs={self._given_envs.num_envs} but TRL sent {num_envs} "
                                 "completions: make num_envs the per-device generation batch size")
            return self._given_envs
        if num_envs not in self._built_envs:
            self._built_envs[num_envs] = gym.make_vec(self.env_id, num_envs=num_envs,
                                                      vectorization_mode="vector_entry_point", **self.env_kwargs)
        return self._built_envs[num_envs]

    @staticmethod
    def _pin(envs: gym.vector.VectorEnv, per_env: list[dict[str, int]]) -> tuple[str, ...]:
        """Reset every sub-env onto its pinned passage; the observations (prompts)."""
        observations, infos = envs.reset(options={"per_env": per_env})
        if [int(i) for i in infos["passage_index"]] != [o["passage_index"] for o in per_env]:
            raise ValueError("the vector env did not pin each sub-env's passage: use one with group_size=1")
        return observations


def step_errors(final_info: dict[str, Any], num_envs: int) -> list[str]:
    """Each sub-env's ``info["error"]`` from a vector step's stacked ``final_info`` ("" where none)."""
    errors, mask = final_info.get("error"), final_info.get("_error")
    if errors is None or mask is None:
        return [""] * num_envs
    return [str(e) if present and e is not None else "" for e, present in zip(errors, mask)]
