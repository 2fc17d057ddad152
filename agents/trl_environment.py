"""SEAL rewards through TRL's ``GRPOTrainer(environment_factory=...)``, backed by the reward service.

TRL 1.16 makes one environment per rollout (``environment_factory()``, pooled and reused), calls its
``reset(**dataset_row)`` before generation (a returned string is the prompt), and exposes its public methods as
tools the model may call while it generates. :class:`SealEnvironments` is such a factory over ONE
:class:`~seal_gym.serve.ServiceThread`:

- ``reset`` pins the rollout's task from the row (``passage_index``, ...), draws its inner seed (one per task and
  batch, so a prompt's G rollouts differ only by their text) and returns the env's prompt;
- the tool ``write_self_edit`` sends the self-edit to the service at once: the inner loop trains while TRL goes on
  generating (the other rollouts, and this one's next turn);
- :attr:`SealEnvironments.reward` (``reward_funcs=envs.reward``) awaits each rollout's answer; a rollout that
  called no tool is scored on its completion text, all of the batch's sent together, so they train in few engine
  calls. A failed reward is ``None`` (TRL's "no reward") with its reason logged.

Why a reward function and not the environment's own ``get_reward``: TRL 1.16 calls ``get_reward()`` with no
argument (it cannot see a completion that is plain text, which is what a SEAL self-edit is) and awaits the
rollouts' ``get_reward`` one after another, so requests sent from it would reach the service one at a time (an
engine call per adapter). TRL passes the batch's environments to reward functions (``environments=``), which
gives both: the completions, and one concurrent send. docs/trl.md has an example.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any, Sequence

from seal_gym.agents.trl_rewards import InnerSeeds, completion_text
from seal_gym.agents.trl_service import report, task_key, task_of


class SealEnvironment:
    """One rollout's environment (made by :class:`SealEnvironments`; TRL reuses it, resetting it per batch)."""

    def __init__(self, owner: "SealEnvironments") -> None:
        self._owner = owner
        self.task: dict[str, Any] = {}
        self.inner_seed = 0
        self._sent: concurrent.futures.Future | None = None

    def reset(self, prompt: Any = None, inner_seed: int | None = None, **row: Any) -> str | None:
        """Pin the task named by the dataset row; the env's prompt, or ``None`` when the row has a prompt of its
        own (TRL would append a returned prompt to it)."""
        self.task = task_of(row)
        if not self.task:
            raise ValueError(f"a dataset row must pin a task (passage_index, task_id, ...), got {sorted(row)}")
        self.inner_seed = int(inner_seed) if inner_seed is not None else self._owner.seeds.draw(task_key(self.task))
        self._sent = None
        return None if prompt is not None else self._owner.rewards.service.prompt(self.task)[0]

    def write_self_edit(self, self_edit: str) -> str:
        """Submit the self-edit: the notes to learn the passage from. Training on them starts at once; the
        reward comes when the episode ends. Only the first self-edit of an episode counts.

        Args:
            self_edit: The self-edit, as plain text.

        Returns:
            Whether the self-edit was taken.
        """
        if self._sent is not None:
            return "Already submitted: only the first self-edit of an episode counts."
        self._sent = self._owner.rewards.submit(self.task, self_edit, self.inner_seed)
        return "Submitted: the model is training on it."

    def _send(self, completion: Any) -> concurrent.futures.Future:
        """The rollout's request: the one its tool call sent, else its completion text, sent now."""
        if self._sent is None:
            self._sent = self._owner.rewards.submit(self.task, completion_text(completion), self.inner_seed)
        return self._sent


class SealEnvironments:
    """``GRPOTrainer(environment_factory=envs, reward_funcs=envs.reward, train_dataset=envs.task_dataset(n))``.

    Args:
        service: a :class:`~seal_gym.serve.ServiceThread` to share, or ``None`` to build one for ``env_id`` with
            ``env_kwargs`` (and ``config``, a :class:`~seal_gym.serve.ServiceConfig`).
        seed: seeds the inner-loop seeds drawn when the dataset has no ``inner_seed`` column.
        name: the reward's ``__name__`` (TRL logs ``rewards/<name>/mean`` and ``<name>/failed``).
    """

    def __init__(self, service: Any = None, *, env_id: str = "SealSquad-v0", config: Any = None, seed: int = 0,
                 name: str = "seal_environment_reward", **env_kwargs: Any) -> None:
        from seal_gym.serve import RewardService, ServiceThread

        self.rewards = service if service is not None else ServiceThread(RewardService.from_env(env_id, config,
                                                                                                 **env_kwargs))
        self.seeds = InnerSeeds(seed)

        async def reward(prompts: Sequence[Any], completions: Sequence[Any],
                         environments: Sequence[SealEnvironment] | None = None, **kwargs: Any) -> list[float | None]:
            if environments is None or len(environments) != len(completions):
                raise ValueError("the reward needs TRL's environments: pass this SealEnvironments object as "
                                 "GRPOTrainer's environment_factory too")
            sent = [environment._send(c) for environment, c in zip(environments, completions)]
            self.seeds.new_batch()  # every rollout of the batch has its seed: the next batch draws new ones
            results = await asyncio.gather(*(asyncio.wrap_future(f) for f in sent))
            return report(name, results, kwargs)

        reward.__name__ = name
        self.reward = reward
        """The reward function for ``reward_funcs`` (async: TRL awaits it on its own event loop)."""

    def __call__(self) -> SealEnvironment:
        return SealEnvironment(self)

    def task_dataset(self, passage_indices: int | Sequence[int]):
        """A ``datasets.Dataset`` of SealSquad tasks for TRL: one ``passage_index`` column (the environment's
        ``reset`` gives the prompts). ``passage_indices``: the indices, or ``n`` for the first ``n``."""
        from datasets import Dataset

        indices = (list(range(passage_indices)) if isinstance(passage_indices, int)
                   else [int(i) for i in passage_indices])
        if not indices:
            raise ValueError("passage_indices is empty: give at least one passage index")
        return Dataset.from_dict({"passage_index": indices})

    def close(self) -> None:
        """Close the service (answering what it accepted)."""
        self.rewards.close()
