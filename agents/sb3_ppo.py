"""Stable-Baselines3's PPO on structured ARC recipes: the non-LLM baseline, in the same runs and TensorBoard.

The policy is SB3's own MLP PPO on ``SealARCStructured-v0`` (a ``MultiDiscrete`` recipe from a grid of
choices, task features as a ``Box``): no language model writes anything, so it shows what picking recipes
from task statistics alone achieves. A round is ``prompts_per_round`` episodes, i.e. one SB3 rollout of
``n_steps = prompts_per_round`` followed by SB3's own update; the run folder, ``episodes.jsonl`` (the recipe
as the self-edit), TensorBoard layout, checkpoints and ``--resume`` are the shared loop's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from seal_gym.agents.base import Agent, AgentConfig
from seal_gym.agents.policy import Completion
from seal_gym.agents.rollouts import Rollouts, prompt_key

STRUCTURED_ENV = "SealARCStructured-v0"


@dataclass
class SB3PPOConfig(AgentConfig):
    ONE_SAMPLE_PER_PROMPT: ClassVar[bool] = True

    """SB3 PPO's settings (``prompts_per_round`` is its ``n_steps``; one recipe per task, so n = r = 1)."""

    samples_per_prompt: int = 1
    """Fixed at 1: SB3 picks one recipe per task."""
    learning_rate: float = 3e-4
    """Adam learning rate of SB3's policy and value networks."""
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


class SB3Policy:
    """SB3's PPO as the agent's policy: saves and loads as SB3's zip file."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def act(self, observations):
        return [self.model.predict(obs, deterministic=True)[0] for obs in observations]

    def save(self, folder: str | Path) -> None:
        self.model.save(str(Path(folder) / "sb3_ppo.zip"))

    def load(self, folder: str | Path) -> None:
        from stable_baselines3 import PPO

        env = self.model.get_env()
        self.model = PPO.load(str(Path(folder) / "sb3_ppo.zip"), env=env)


class SB3PPO(Agent):
    """SB3 PPO on ``SealARCStructured-v0`` (see the module docstring). ``env`` must be ``"SealARC-v0"`` or
    ``"SealARCStructured-v0"``; ``env_kwargs`` are SealARC's. ``policy`` is ignored (pass None)."""

    name = "sb3-ppo"
    config_class = SB3PPOConfig
    config: SB3PPOConfig
    needs_text_policy = False

    def __init__(self, policy: Any, env: Any, config: SB3PPOConfig | None = None,
                 env_kwargs: dict[str, Any] | None = None, eval_env: Any = None) -> None:
        if env not in ("SealARC-v0", STRUCTURED_ENV):
            raise ValueError(f"sb3-ppo trains on structured ARC recipes: env must be 'SealARC-v0', got {env!r}")
        try:
            from stable_baselines3 import PPO
            from stable_baselines3.common.vec_env import DummyVecEnv
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError("sb3-ppo needs stable-baselines3: pip install stable-baselines3") from err
        self._env_kwargs = dict(env_kwargs or {})
        super().__init__(None, STRUCTURED_ENV, config, env_kwargs, eval_env)
        c = self.config
        vec = DummyVecEnv([lambda: gym.make(STRUCTURED_ENV, **self._env_kwargs)])
        vec.seed(c.seed)
        self.policy = SB3Policy(PPO("MlpPolicy", vec, n_steps=c.prompts_per_round, batch_size=c.batch_size,
                                    n_epochs=c.n_epochs, learning_rate=c.learning_rate, ent_coef=c.ent_coef,
                                    gamma=1.0, gae_lambda=1.0, seed=c.seed, verbose=0, device="cpu"))

    def make_collector(self, env, env_kwargs):
        return None  # SB3 runs its own rollouts

    def collect(self, progress=None) -> Rollouts:
        from stable_baselines3.common.callbacks import BaseCallback

        episodes: list[tuple[float, dict[str, Any]]] = []

        class Record(BaseCallback):
            def _on_step(self) -> bool:
                for reward, info in zip(self.locals["rewards"], self.locals["infos"]):
                    episodes.append((float(reward), dict(info)))
                return True

        model = self.policy.model
        model.learn(total_timesteps=self.config.prompts_per_round, reset_num_timesteps=False, callback=Record())
        completions = [Completion(prompt_key(info, ""), json.dumps(info.get("recipe"), default=str), [], [])
                       for _, info in episodes]
        rewards = np.array([r for r, _ in episodes], dtype=np.float64).reshape(-1, 1, 1)
        return Rollouts(completions, rewards, [[info] for _, info in episodes], [c.prompt for c in completions])

    def update(self, rollouts: Rollouts) -> dict[str, float]:
        values = self.policy.model.logger.name_to_value  # SB3's numbers of the update it just made
        return {f"losses/{key.split('/')[-1]}": float(v) for key, v in values.items() if key.startswith("train/")}

    def algorithm_state(self) -> dict[str, Any]:
        return {"num_timesteps": self.policy.model.num_timesteps}
