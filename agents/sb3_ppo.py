"""Stable-Baselines3's PPO on a domain's structured twin: the non-LLM baseline, in the same runs and TensorBoard.

The policy is SB3's own MLP PPO on the env's structured twin (:attr:`~seal_gym.domain_spec.DomainSpec.
structured_twin`; SealARC's is ``SealARCStructured-v0``: a ``MultiDiscrete`` recipe from a grid of choices,
task features as a ``Box``): no language model writes anything, so it shows what picking recipes
from task statistics alone achieves. A round is ``prompts_per_round`` episodes, i.e. one SB3 rollout of
``n_steps = prompts_per_round`` followed by SB3's own update, in one ``model.learn`` call: the agent overrides
:meth:`~seal_gym.agents.base.Agent.run_round` and shares the rest of the loop: the run folder,
``episodes.jsonl`` (the recipe as the self-edit), the TensorBoard tags, checkpoints and ``--resume``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np

from seal_gym.agents.base import Agent, AgentConfig, RoundResult
from seal_gym.agents.policy import Completion
from seal_gym.agents.progress import heartbeat
from seal_gym.agents.rollouts import Rollouts, prompt_key
from seal_gym.agents.scalars import declared_info_metrics
from seal_gym.registration import domain_spec, domain_specs


@dataclass
class SB3PPOConfig(AgentConfig):
    """SB3 PPO's settings (``prompts_per_round`` is its ``n_steps``; one recipe per task, so n = r = 1)."""

    samples_per_prompt: int = 1
    """Fixed at 1: SB3 picks one recipe per task."""
    learning_rate: float = 3e-4
    """Adam learning rate of SB3's policy and value networks (SB3's default; a preset's learning rate is the
    language model's and does not apply)."""
    n_epochs: int = 4
    """SB3 PPO's passes over each rollout."""
    batch_size: int = 4
    """SB3 PPO's minibatch size (must divide into prompts_per_round sensibly)."""
    ent_coef: float = 0.01
    """Entropy bonus: keeps the recipe distribution from collapsing early."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.samples_per_prompt != 1 or self.inner_seeds != 1:
            raise ValueError("sb3-ppo samples one recipe per task with one inner seed: samples_per_prompt = inner_seeds = 1")
        if self.eval_every:
            raise ValueError("sb3-ppo has no greedy text evaluation: leave eval_every at 0")
        if self.prompts_per_round < 2:
            raise ValueError("sb3-ppo needs prompts_per_round >= 2 (SB3 normalises advantages over the rollout)")

    @classmethod
    def from_preset(cls, values: dict[str, Any]) -> dict[str, Any]:
        """A preset's budget for one recipe per task: ``G x n`` tasks instead of ``G`` tasks x ``n`` samples (the
        same inner loops, so budgets compare); the preset's learning rate is the language model's: SB3 keeps
        its own."""
        values = dict(values)
        values["prompts_per_round"] = values.get("prompts_per_round", 1) * values.pop("samples_per_prompt", 1)
        for key in ("inner_seeds", "learning_rate"):
            values.pop(key, None)
        return values


class SB3Policy:
    """SB3's PPO as the agent's policy: saves and loads as SB3's zip file."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def act(self, observations):
        return [self.model.predict(obs, deterministic=True)[0] for obs in observations]

    def save(self, folder: str | Path) -> None:
        self.model.save(str(Path(folder) / "sb3_ppo.zip"))

    def load(self, folder: str | Path) -> None:
        """Load SB3's zip without unpickling anything: SB3 stores some settings (classes, spaces, schedules, the
        last observation) cloudpickled, and unpickling runs code, so they come from this model, built with the
        run's settings (the env is reset where the run goes on)."""
        from stable_baselines3 import PPO

        path = Path(folder) / "sb3_ppo.zip"
        from_here = {key: getattr(self.model, key, None) for key in _pickled_keys(path)}
        self.model = _in_memory_logger(PPO.load(str(path), env=self.model.get_env(), custom_objects=from_here))


def _pickled_keys(path: Path) -> list[str]:
    """The settings SB3's zip at ``path`` holds cloudpickled."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        data = json.loads(archive.read("data"))
    return [key for key, value in data.items() if isinstance(value, dict) and ":serialized:" in value]


@dataclass
class _Episodes:
    """What the env wrapper saw during one SB3 rollout: each episode's task, reward and step info."""

    records: list[tuple[str, float, dict[str, Any]]] = field(default_factory=list)
    env_seconds: float = 0.0
    """Seconds inside the env's ``reset`` and ``step``: the inner loops."""


class _Recorder(gym.Wrapper):
    """Records every episode of the wrapped env, and times it, for the shared loop's records."""

    def __init__(self, env: gym.Env, episodes: _Episodes) -> None:
        super().__init__(env)
        self.episodes, self.task = episodes, ""

    def reset(self, **kwargs: Any):
        start = time.perf_counter()
        observation, info = self.env.reset(**kwargs)
        self.episodes.env_seconds += time.perf_counter() - start
        self.task = prompt_key(info, "")
        return observation, info

    def step(self, action: Any):
        start = time.perf_counter()
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.episodes.env_seconds += time.perf_counter() - start
        self.episodes.records.append((self.task, float(reward), dict(info)))
        return observation, reward, terminated, truncated, info


def _in_memory_logger(model):
    """``model`` with a logger that keeps its numbers in memory (``_update_numbers`` reads them) and writes
    nowhere: SB3's default one makes an empty ``/tmp/SB3-<time>`` folder at every ``learn()``."""
    from stable_baselines3.common.logger import Logger

    model.set_logger(Logger(folder=None, output_formats=[]))
    return model


class SB3PPO(Agent):
    """SB3 PPO on ``SealARCStructured-v0`` (see the module docstring). ``env`` must be ``"SealARC-v0"`` or
    ``"SealARCStructured-v0"``; ``env_kwargs`` are SealARC's. ``policy`` is not used: the agent makes its own
    :class:`SB3Policy` (pass None)."""

    name = "sb3-ppo"
    config_class = SB3PPOConfig
    config: SB3PPOConfig
    needs_text_policy = False

    def __init__(self, policy: Any, env: Any, config: SB3PPOConfig | None = None,
                 env_kwargs: dict[str, Any] | None = None, eval_env: Any = None) -> None:
        spec = domain_spec(env) if isinstance(env, str) else None
        twin = spec.structured_twin if spec is not None else None
        if twin is None:
            having = [e for s in domain_specs() if s.structured_twin for e in s.env_ids]
            raise ValueError(f"sb3-ppo trains on a domain's structured twin (an env whose actions are numbers): env "
                             f"must be one of {', '.join(map(repr, having))}, got {env!r}")
        try:
            from stable_baselines3 import PPO
            from stable_baselines3.common.vec_env import DummyVecEnv
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError("sb3-ppo needs stable-baselines3: pip install stable-baselines3") from err
        c = config or SB3PPOConfig()
        if not isinstance(c, SB3PPOConfig):  # checked before SB3 reads it (the base class checks too late)
            raise TypeError(f"SB3PPO takes a SB3PPOConfig, got {type(c).__name__}")
        self._episodes = _Episodes()
        kwargs = dict(env_kwargs or {})
        vec = DummyVecEnv([lambda: _Recorder(gym.make(twin, **kwargs), self._episodes)])
        vec.seed(c.seed)
        model = PPO("MlpPolicy", vec, n_steps=c.prompts_per_round, batch_size=c.batch_size, n_epochs=c.n_epochs,
                    learning_rate=c.learning_rate, ent_coef=c.ent_coef, gamma=1.0, gae_lambda=1.0, seed=c.seed,
                    verbose=0, device="cpu")
        super().__init__(SB3Policy(_in_memory_logger(model)), twin, c, env_kwargs, eval_env)

    def make_collector(self, env, env_kwargs):
        return None  # SB3 runs its own rollouts (see run_round)

    def declared_info_metrics(self) -> list[str] | None:
        return declared_info_metrics(self.policy.model.get_env().envs[0])

    def run_round(self, progress: Callable[[str], None]) -> RoundResult:
        """One SB3 rollout of ``prompts_per_round`` episodes and SB3's update on it, in one ``learn`` call."""
        from stable_baselines3.common.callbacks import BaseCallback

        marks: dict[str, float] = {}
        episodes = self._episodes
        episodes.records.clear()

        class Clock(BaseCallback):
            def _on_rollout_start(self) -> None:
                marks["rollout"] = time.perf_counter()
                episodes.env_seconds = 0.0

            def _on_step(self) -> bool:
                return True

            def _on_rollout_end(self) -> None:
                marks["update"] = time.perf_counter()

        model = self.policy.model
        last = self.history[-1].seconds if self.history else {}
        expected = sum(last.get(k, 0.0) for k in ("sampling", "inner_loop", "update"))
        with heartbeat(progress, "SB3 rollout and update", expected, engine=self.engine_progress):
            model.learn(total_timesteps=self.config.prompts_per_round, reset_num_timesteps=False, callback=Clock())
        end = time.perf_counter()
        rollout = marks["update"] - marks["rollout"]
        seconds = {"sampling": max(0.0, rollout - episodes.env_seconds), "inner_loop": episodes.env_seconds,
                   "update": end - marks["update"]}
        completions = [Completion(task, json.dumps(info.get("recipe"), default=str), [], [])
                       for task, _, info in episodes.records]
        rewards = np.array([r for _, r, _ in episodes.records], dtype=np.float64).reshape(-1, 1, 1)
        rollouts = Rollouts(completions, rewards, [[info] for _, _, info in episodes.records],
                            [c.prompt for c in completions], seconds)
        return RoundResult(rollouts, self._update_numbers(), seconds)

    def _update_numbers(self) -> dict[str, float]:
        """SB3's numbers of the update it just made, under the shared tags."""
        values = self.policy.model.logger.name_to_value
        out = {"charts/trained_fraction": 1.0}
        for tag, key, sign in (("losses/policy_loss", "train/policy_gradient_loss", 1),
                               ("losses/value_loss", "train/value_loss", 1),
                               ("losses/entropy", "train/entropy_loss", -1),  # SB3 logs minus the entropy
                               ("losses/approx_kl", "train/approx_kl", 1),
                               ("losses/clip_fraction", "train/clip_fraction", 1),
                               ("losses/explained_variance", "train/explained_variance", 1)):
            if key in values:
                out[tag] = sign * float(values[key])
        return out

    def algorithm_state(self) -> dict[str, Any]:
        return {"num_timesteps": self.policy.model.num_timesteps}
