"""SealSquad-v0 as a verifiers environment (``pip install 'seal-gym[verifiers]'``; verifiers 0.4's ``v1`` API).

A verifiers v1 environment is a taskset package: :class:`SealSquadTaskset` yields one :class:`SealSquadTask` per
passage (its prompt is the env's observation, its inner seed drawn once per task), and the task's rubric is one
``@vf.reward``, ``seal_reward``, which sends the rollout's last reply (the self-edit) to a shared
:class:`~seal_gym.serve.ServiceThread` and awaits the answer with ``asyncio.wrap_future``: verifiers' event loop
never blocks on training, and the rollouts scored at once are trained together in few engine calls.

A failed reward (timeout, engine failure, ...) raises :class:`RewardUnavailable` with the service's reason:
verifiers records it on the trace as a task error and leaves ``trace.rewards["seal_reward"]`` ``None`` ("scoring
did not run"), never a 0. The reward's details (``ok``, ``reason``, the env step's info) are in
``trace.info["seal_reward"]``.

    env = load_environment(model="tiny-random", passages=[0, 1, 2])   # a verifiers Env (SingleAgentEnv)

verifiers resolves a taskset id to a TOP-LEVEL module (``--env.taskset.id seal-squad`` imports ``seal_squad``) and
cannot import a dotted one, so importing this module registers it as ``seal_gym_squad`` (:data:`TASKSET_ID`) in
``sys.modules``: the id works in any process that imported it (``load_environment`` does). seal-gym installs no
top-level module of that name, so verifiers' CLI in a fresh process does not find it.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, Iterator

from seal_gym.agents.trl_rewards import InnerSeeds

try:
    import verifiers.v1 as vf
except ModuleNotFoundError as err:  # pragma: no cover - the extra is missing
    raise ModuleNotFoundError("seal_gym's verifiers environment needs verifiers: pip install 'seal-gym[verifiers]'") \
        from err

__all__ = ["SealSquadTaskset"]
"""verifiers' loader takes the module's one exported Taskset subclass."""
TASKSET_ID = "seal_gym_squad"
"""The verifiers taskset id of SealSquad-v0 (an alias of this module: see the module docstring)."""
sys.modules.setdefault(TASKSET_ID, sys.modules[__name__])


class RewardUnavailable(RuntimeError):
    """The service gave no reward for the rollout; the message is its reason."""


class SealSquadData(vf.TaskData):
    """One task: a passage and the inner-loop seed its rollouts are trained with."""

    passage_index: int
    """SealSquad-v0's ``passage_index`` reset option."""
    inner_seed: int
    """The inner loop's seed: the same for every rollout of the task, so they differ only by their text."""


class _Shared:
    """The reward service, shared by every copy of a task: verifiers deep-copies tasks (to defer scoring), and a
    service (a thread and its event loop) must not be copied."""

    def __init__(self, rewards: Any) -> None:
        self.rewards = rewards

    def __deepcopy__(self, memo: dict) -> "_Shared":
        return self


class SealSquadTask(vf.Task[SealSquadData]):
    """A passage to write a self-edit for; scored by the reward service."""

    shared: _Shared

    @vf.reward(weight=1.0)
    async def seal_reward(self, trace: vf.Trace) -> float:
        """SealSquad-v0's reward for the rollout's last reply, awaited without blocking the event loop."""
        result = await asyncio.wrap_future(self.shared.rewards.submit(
            {"passage_index": self.data.passage_index}, trace.last_reply, self.data.inner_seed))
        trace.info["seal_reward"] = {"ok": result.ok, "reason": result.reason, "info": result.info,
                                     "cached": result.cached, "seconds": result.seconds}
        if not result.ok:
            raise RewardUnavailable(result.reason)
        return result.reward


class SealSquadTasksetConfig(vf.TasksetConfig):
    """Which passages, and the reward service that scores them (``--env.taskset.*`` on verifiers' CLI)."""

    passages: list[int] | None = None
    """Passage indices to serve as tasks (``None``: every passage of the env)."""
    seed: int = 0
    """Seeds the tasks' inner-loop seeds."""
    model: str | None = None
    """The model the inner loop adapts, a :func:`seal_gym.models.load_model` name (``None``: the embedded one)."""
    max_batch: int = 8
    """At most this many self-edits in one engine call (:class:`~seal_gym.serve.ServiceConfig`)."""
    max_wait_ms: float = 50.0
    """How long a batch waits for more rollouts after its first one."""


class SealSquadTaskset(vf.Taskset[SealSquadTask, SealSquadTasksetConfig]):
    """SealSquad-v0's passages as verifiers tasks. ``rewards``: a :class:`~seal_gym.serve.ServiceThread` to share;
    ``None`` builds one from the config at the first :meth:`load`."""

    def __init__(self, config: SealSquadTasksetConfig, rewards: Any = None) -> None:
        super().__init__(config)
        self._shared = _Shared(rewards)

    def load(self) -> Iterator[SealSquadTask]:
        rewards = self.rewards()
        count = len(rewards.service.domain.passages)
        indices = list(range(count)) if self.config.passages is None else [int(i) for i in self.config.passages]
        for index, seed in zip(indices, InnerSeeds(self.config.seed).for_batch(indices)):
            task = SealSquadTask(SealSquadData(prompt=rewards.service.prompt({"passage_index": index})[0],
                                               passage_index=index, inner_seed=seed))
            task.shared = self._shared
            yield task

    def rewards(self) -> Any:
        """The reward service (built on first use when none was given)."""
        if self._shared.rewards is None:
            from seal_gym.models import load_model
            from seal_gym.serve import RewardService, ServiceConfig, ServiceThread

            config = ServiceConfig(max_batch=self.config.max_batch, max_wait_ms=self.config.max_wait_ms)
            self._shared.rewards = ServiceThread(RewardService.from_env("SealSquad-v0", config,
                                                                        model=load_model(self.config.model)))
        return self._shared.rewards


def load_environment(**taskset: Any) -> "vf.Env":
    """A verifiers environment for SealSquad-v0, through verifiers' own loader; ``taskset``:
    :class:`SealSquadTasksetConfig` fields (``model``, ``passages``, ``seed``, ``max_batch``, ``max_wait_ms``)."""
    return vf.load_environment(vf.SingleAgentEnvConfig(taskset=SealSquadTasksetConfig(id=TASKSET_ID, **taskset)))
