"""What a task family gives the generic seal_gym environments: draw a task, show it, score actions in batches.

``SealSquad-v0`` and ``SealARC-v0`` are one env class (:class:`seal_gym.envs.base.SealEnv`) and one native
vector env class (:class:`seal_gym.envs.vector.SealVectorEnv`) over two :class:`Domain` objects
(:class:`seal_gym.squad.domain.SquadDomain`, :class:`seal_gym.arc.domain.ArcDomain`). A domain scores a
*batch* of actions through one call to its inner loop, so the vector env's K self-edits cost one engine call.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Generic, Protocol, Sequence, TypeVar

import numpy as np

from seal_gym.adapt import InnerLoopEngine, make_engine
from seal_gym.models import ModelBundle, load_model

TaskT = TypeVar("TaskT")
MAX_SEED = 2**31 - 1


@dataclass
class Scored:
    """What one action earned."""

    reward: float
    info: dict[str, Any] = field(default_factory=dict)
    """Step ``info``: no wall-clock timings, so two runs from one seed give equal infos (``check_env``)."""
    result: Any = None
    """The domain's typed result, timings included; ``None`` when the action never reached the engine."""
    summary: str = ""
    """One line for ``render_mode="ansi"``."""


@dataclass(frozen=True)
class Episode(Generic[TaskT]):
    """A task and the inner-loop seed its action will be trained with."""

    task: TaskT
    inner_seed: int


class Domain(Protocol[TaskT]):
    """A task family: where tasks come from, what the policy sees, how actions are scored."""

    max_observation_chars: int
    max_action_chars: int

    def draw(self, rng: np.random.Generator, options: dict[str, Any]) -> TaskT:
        """A task: drawn with ``rng``, or the one ``options`` pins (each domain documents its keys)."""
        ...

    def observation(self, task: TaskT) -> str:
        """The prompt the policy answers with its action."""
        ...

    def reset_info(self, task: TaskT) -> dict[str, Any]:
        """``info`` of ``reset``: the task in plain data, its name under ``"task_key"`` (agents group by it)."""
        ...

    def score(self, items: Sequence[tuple[TaskT, Any, int]]) -> list[Scored]:
        """Rewards of ``(task, action, inner_seed)`` items, all through ONE inner-loop call.

        Raises:
            TypeError: when an action is not text.
        """
        ...


def draw_episode(domain: Domain, rng: np.random.Generator, options: dict[str, Any] | None) -> Episode:
    """A task and an inner seed, both from ``rng``; ``options["inner_seed"]`` overrides the seed.

    The seed is drawn even when overridden, so pinning it leaves the rest of the stream unchanged.
    """
    options = options or {}
    task = domain.draw(rng, options)
    seed = int(rng.integers(MAX_SEED))
    if options.get("inner_seed") is not None:
        seed = int(options["inner_seed"])
    return Episode(task, seed)


def result_info(result: Any, **extra: Any) -> dict[str, Any]:
    """A typed result as step ``info``: every field but the wall-clock ones (``*seconds``)."""
    info = {k: v for k, v in asdict(result).items() if not k.endswith("seconds")}
    info.update(extra)
    return info


def model_and_engine(model: Any, engine: str | InnerLoopEngine,
                     **engine_kwargs: Any) -> tuple[ModelBundle, InnerLoopEngine]:
    """The model bundle (see :func:`seal_gym.models.load_model`) and the inner-loop engine over it.

    ``engine`` is a name (see :func:`seal_gym.adapt.make_engine`, which gets ``engine_kwargs``) or an engine object
    used as it is.
    """
    bundle = load_model(model)
    return bundle, make_engine(bundle.model, bundle.tokenizer, engine, **engine_kwargs)
