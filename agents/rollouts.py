"""Collecting self-edits and their rewards: G prompts x n samples x r inner-loop seeds, in one env step.

The collector needs only Gymnasium's API and text observations/actions, so it works with the seal_gym envs,
their native vector envs, and any text env of a user's:

- an env id whose native vector env groups sub-envs by task (its ``vector_entry_point`` takes
  ``group_size``, see :mod:`~seal_gym.agents.env_traits`): one vector env of ``G * n * r`` sub-envs in
  groups of ``n * r`` that share a task, so all self-edits of a round go through ONE ``step`` call (one
  batched inner-loop call);
- a vector env object built that way (its ``num_envs`` and ``group_size`` must match);
- a single ``gym.Env`` (or any other id): each self-edit is one episode, replayed from the group's seed so
  that all n samples answer the same observation.

Observations and actions must be text (``gymnasium.spaces.Text``); another env is refused when the
collector is made, before anything is sampled.

Inner-loop seeds go in through ``reset(options={"inner_seed": s})``, which seal_gym envs honour and other
envs may ignore. The r seeds are shared by the n samples of a group (common random numbers), so samples are
compared under the same LoRA noise.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import gymnasium as gym
import numpy as np

from seal_gym.agents.env_traits import env_id_of, make_env, text_problem
from seal_gym.agents.policy import Completion, TrainablePolicy
from seal_gym.domain import MAX_SEED


@dataclass
class Rollouts:
    """One round's self-edits and what they earned."""

    completions: list[Completion]
    """``G * n`` completions, prompt-major."""
    rewards: np.ndarray
    """``[G, n, r]``: the reward of sample ``i`` of prompt ``g`` under inner-loop seed ``j``."""
    infos: list[list[dict[str, Any]]]
    """Step infos, ``[G * n][r]``."""
    prompt_keys: list[str]
    """A name for each of the G prompts (the env's ``info["task_key"]`` from reset, see :func:`prompt_key`)."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall-clock seconds of ``sampling`` and of the ``inner_loop`` (env resets and steps)."""

    @property
    def mean_rewards(self) -> np.ndarray:
        """``[G, n]``: each self-edit's reward averaged over its inner-loop seeds."""
        return self.rewards.mean(axis=2)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.rewards.shape)  # type: ignore[return-value]

    def info_mean(self, key: str) -> float | None:
        """Mean of a numeric step-info value over every episode, or ``None`` if no episode reports it."""
        values = [info[key] for row in self.infos for info in row if isinstance(info.get(key), (int, float))]
        return float(np.mean(values)) if values else None


def unstack_infos(infos: dict[str, Any], num_envs: int) -> list[dict[str, Any]]:
    """Gymnasium vector infos (arrays + ``_key`` masks) back into one dict per sub-env."""
    out: list[dict[str, Any]] = [{} for _ in range(num_envs)]
    for key, values in infos.items():
        if key.startswith("_"):
            continue
        mask = infos.get(f"_{key}", np.ones(num_envs, dtype=bool))
        for i in range(num_envs):
            if mask[i]:
                value = values[i]
                out[i][key] = value.item() if isinstance(value, np.generic) else value
    return out


TASK_KEY = "task_key"
"""The reset-info key under which an env names its task (episodes with equal names answer the same task)."""


def prompt_key(info: dict[str, Any], observation: str) -> str:
    """The task's name the env declares in reset info (``info["task_key"]``), else a short hash of its observation."""
    if info.get(TASK_KEY) is not None:
        return str(info[TASK_KEY])
    return hashlib.sha1(observation.encode()).hexdigest()[:10]


class Collector:
    """Runs G prompts x n samples x r seeds through an env (see the module docstring).

    Args:
        env: a registered env id, a vector env object, or a single env object.
        groups, samples, seeds: G, n and r.
        env_kwargs: keyword arguments for ``gym.make_vec`` / ``gym.make`` when ``env`` is an id.

    Raises:
        ValueError: an env whose observations or actions are not text, an id that is not registered or does
            not take ``env_kwargs``, or a vector env object whose ``num_envs`` or ``group_size`` does not match.
    """

    def __init__(self, env: str | gym.Env | gym.vector.VectorEnv, groups: int, samples: int, seeds: int = 1,
                 env_kwargs: dict[str, Any] | None = None) -> None:
        if min(groups, samples, seeds) < 1:
            raise ValueError(f"groups, samples and seeds must be >= 1, got {groups}, {samples}, {seeds}")
        self.groups, self.samples, self.seeds = groups, samples, seeds
        per_group = samples * seeds
        name, built = env_id_of(env), isinstance(env, str)
        if built:
            env = make_env(env, groups * per_group, per_group, dict(env_kwargs or {}))
        problem = text_problem(env, name)
        if problem is not None:
            if built:  # ours to close; an object the caller passed stays theirs
                env.close()
            raise ValueError(problem)
        if isinstance(env, gym.vector.VectorEnv):
            if env.num_envs != groups * per_group or getattr(env, "group_size", 1) != per_group:
                raise ValueError(
                    f"the vector env has num_envs={env.num_envs}, group_size={getattr(env, 'group_size', 1)}; this "
                    f"agent needs num_envs={groups * per_group} in groups of {per_group} (prompts x samples x seeds): "
                    f"pass the env id instead and the agent builds it")
        self.env = env

    def collect(self, policy: TrainablePolicy, rng: np.random.Generator, greedy: bool = False,
                progress: Callable[[str], None] | None = None, logprobs: bool = True) -> Rollouts:
        """Sample ``n`` self-edits for each of G fresh prompts and step them all; seeds come from ``rng``.

        ``progress`` receives a line when sampling is done (the inner loops follow); ``logprobs=False`` skips
        the behaviour log-probs (see :meth:`TrainablePolicy.sample`).
        """
        seed = int(rng.integers(MAX_SEED))
        inner = rng.integers(MAX_SEED, size=(self.groups, self.seeds))
        seconds: dict[str, float] = {}

        def sample(prompts: list[str]) -> list[Completion]:
            start = time.perf_counter()
            completions = policy.sample(prompts, self.samples, greedy=greedy, logprobs=logprobs)
            seconds["sampling"] = time.perf_counter() - start
            if progress is not None:
                progress(f"  sampled {len(completions)} self-edits in {seconds['sampling']:.0f} s; "
                         f"running {len(completions) * self.seeds} inner loops")
            return completions

        started = time.perf_counter()
        if isinstance(self.env, gym.vector.VectorEnv):
            rollouts = self._collect_vector(seed, inner, sample)
        else:
            rollouts = self._collect_single(seed, inner, sample)
        rollouts.seconds = {**seconds, "inner_loop": time.perf_counter() - started - seconds["sampling"]}
        bad = np.argwhere(~np.isfinite(rollouts.rewards))
        if bad.size:  # a NaN averaged into a group's mean poisons every advantage of the update: refuse it
            g, k, j = (int(x) for x in bad[0])
            raise ValueError(f"{env_name(self.env)} returned the reward {rollouts.rewards[g, k, j]} for prompt {g}, "
                             f"self-edit {k}, inner seed {j} of this round ({len(bad)} non-finite in all): rewards must be "
                             "finite numbers")
        return rollouts

    def _collect_vector(self, seed: int, inner: np.ndarray, sample: Callable[[list[str]], list[Completion]]) -> Rollouts:
        G, n, r = self.groups, self.samples, self.seeds
        per_env = [{"inner_seed": int(inner[g, j])} for g in range(G) for _ in range(n) for j in range(r)]
        observations, reset_infos = self.env.reset(seed=seed, options={"per_env": per_env})
        leads = [g * n * r for g in range(G)]
        prompts = [observations[i] for i in leads]
        reset_infos = unstack_infos(reset_infos, self.env.num_envs)
        completions = sample(prompts)
        actions = [completions[g * n + i].text for g in range(G) for i in range(n) for _ in range(r)]
        _, rewards, _, _, infos = self.env.step(actions)
        step_infos = unstack_infos(infos["final_info"], self.env.num_envs)
        return Rollouts(
            completions, np.asarray(rewards, dtype=np.float64).reshape(G, n, r),
            [step_infos[k * r:(k + 1) * r] for k in range(G * n)],
            [prompt_key(reset_infos[i], observations[i]) for i in leads],
        )

    def _collect_single(self, seed: int, inner: np.ndarray, sample: Callable[[list[str]], list[Completion]]) -> Rollouts:
        G, n, r = self.groups, self.samples, self.seeds
        prompts, keys = [], []
        for g in range(G):
            observation, info = self.env.reset(seed=seed + g)
            prompts.append(observation)
            keys.append(prompt_key(info, observation))
        completions = sample(prompts)
        rewards = np.zeros((G, n, r))
        infos: list[list[dict[str, Any]]] = []
        for k, completion in enumerate(completions):
            g, row = k // n, []
            for j in range(r):
                observation, _ = self.env.reset(seed=seed + g, options={"inner_seed": int(inner[g, j])})
                if observation != prompts[g]:
                    raise ValueError("the env shows a different observation after a reset with the same seed; "
                                     "agents replay a group's seed to sample n self-edits for one task")
                _, reward, _, _, info = self.env.step(completion.text)
                rewards[g, k % n, j] = float(reward)
                row.append(dict(info))
            infos.append(row)
        return Rollouts(completions, rewards, infos, keys)


def env_name(env: Any) -> str:
    """An env's registered id (else its class name), for messages."""
    spec = getattr(env, "spec", None) or getattr(getattr(env, "unwrapped", None), "spec", None)
    return spec.id if spec is not None else type(getattr(env, "unwrapped", env)).__name__
