"""The training loop every agent shares: collect -> update -> evaluate -> log -> checkpoint.

Written once (as in Stable-Baselines3); an algorithm is a subclass that adds ``update`` (and a config
dataclass). Typical use::

    agent = ReSTEM(policy, "SealSquad-v0", ReSTEMConfig(), env_kwargs={"model": policy.bundle})
    agent.learn(rounds=2, run_dir=new_run_dir("runs", "SealSquad-v0__rest-em__0"))

With a ``run_dir`` the loop writes TensorBoard events, ``episodes.jsonl`` (one record per self-edit) and a
checkpoint after every update; :meth:`Agent.resume` continues a run that was killed at any moment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np
import torch

from seal_gym.adapt.progress import ProgressRelay
from seal_gym.agents.env_traits import engine_reporting_to, env_id_of
from seal_gym.agents.gradient import gradient_step  # noqa: F401  (its old home: seal_gym.agents.base.gradient_step)
from seal_gym.agents.policy import TrainablePolicy
from seal_gym.agents.progress import heartbeat
from seal_gym.agents.rollouts import Collector, Rollouts
from seal_gym.agents.runlog import RunLog
from seal_gym.agents.scalars import LOOP_EXTRA, declared_info_metrics, info_metric_keys, rollout_scalars, round_scalars


@dataclass
class AgentConfig:
    """Settings every agent shares: how much is collected per round and how it is evaluated."""

    prompts_per_round: int = 4
    """Prompts (passages / tasks) drawn per round: G."""
    samples_per_prompt: int = 5
    """Self-edits sampled per prompt: n (GRPO's group size)."""
    inner_seeds: int = 1
    """Inner-loop seeds per self-edit, r; a self-edit's reward is the mean over them (rewards are noisy)."""
    learning_rate: float = 3e-4
    """Peak learning rate of the policy update."""
    max_grad_norm: float = 1.0
    """Gradient clipping of the policy update."""
    minibatch_size: int = 4
    """Completions per forward/backward pass (gradients accumulate over a batch): bounds memory."""
    eval_every: int = 0
    """Evaluate greedy self-edits every this many rounds (0: never)."""
    eval_prompts: int = 4
    """Prompts in an evaluation (the same seeded draw every time, so evaluations compare)."""
    seed: int = 0
    """Seeds every draw of the run (tasks, inner-loop seeds) and, through the policy, sampling."""

    def __post_init__(self) -> None:
        for name in ("prompts_per_round", "samples_per_prompt", "inner_seeds", "minibatch_size", "eval_prompts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{type(self).__name__}.{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.learning_rate < float("inf"):
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0 < self.max_grad_norm < float("inf"):
            raise ValueError(f"max_grad_norm must be > 0, got {self.max_grad_norm}")
        if self.eval_every < 0:
            raise ValueError(f"eval_every must be >= 0 (0: never), got {self.eval_every}")

    @classmethod
    def from_preset(cls, values: dict[str, Any]) -> dict[str, Any]:
        """A preset's agent fields as this agent takes them (an agent whose budget or model differs adapts them)."""
        return dict(values)


@dataclass
class RoundStats:
    """What one round did (written to TensorBoard by :func:`~seal_gym.agents.scalars.round_scalars`)."""

    round: int
    global_step: int
    """Self-edits evaluated by the inner loop so far (every seed counts)."""
    reward_mean: float
    reward_std: float
    reward_max: float
    update: dict[str, float]
    """The algorithm's numbers (losses, trained fraction, KL...), tags as in :data:`~seal_gym.agents.scalars.SCHEMA`."""
    seconds: dict[str, float]
    """Wall-clock seconds per phase: sampling, inner_loop, update, evaluate (0 when not evaluated) and round."""
    eval_reward: float | None = None
    extra: dict[str, float] = field(default_factory=dict)
    """The loop's numbers of the self-edits (length, group reward std, kept fraction) and the means of the env's
    numeric infos (see :func:`~seal_gym.agents.scalars.rollout_scalars`)."""

    def scalars(self) -> dict[str, float]:
        """Every scalar this round writes, tag -> value (one tag set for every agent)."""
        return round_scalars(self)


@dataclass
class RoundResult:
    """What :meth:`Agent.run_round` hands the loop: the round's episodes, the update's numbers, timings."""

    rollouts: Rollouts
    """The self-edits and their rewards (``[G, n, r]``)."""
    update: dict[str, float]
    """The update's numbers (tags of :data:`~seal_gym.agents.scalars.SCHEMA`), ``charts/trained_fraction`` included."""
    seconds: dict[str, float]
    """Wall-clock seconds of ``sampling``, ``inner_loop`` and ``update``."""


Callback = Callable[["Agent", RoundStats], bool]
"""Called after every round; returning False stops ``learn``."""


class Agent:
    """Base class of the optimizers: owns the loop, the run folder and checkpoints; subclasses add ``update``.

    A round is :meth:`run_round` (by default: :meth:`collect` self-edits, then :meth:`update`), then the loop
    evaluates, logs and checkpoints. An agent with its own rollout machinery (sb3-ppo) overrides
    ``run_round`` and shares the rest: run folder, TensorBoard tags, checkpoints and resume.

    Args:
        policy: a :class:`~seal_gym.agents.policy.TrainablePolicy`.
        env: a registered env id, a vector env or a single env with text observations and actions.
        config: the agent's config dataclass.
        env_kwargs: keyword arguments for the env when ``env`` is an id (e.g. ``model=policy.bundle`` for
            self mode, where the env's inner loop trains on top of the policy's current weights).
        eval_env: the env to evaluate on (default: ``env``; pass one with held-out tasks to measure transfer).
    """

    name: ClassVar[str] = "agent"
    config_class: ClassVar[type[AgentConfig]] = AgentConfig
    needs_behaviour_logprobs: ClassVar[bool] = True
    """Whether ``update`` reads the sampling-time log-probs (ReST-EM does not: it saves a forward pass)."""
    needs_text_policy: ClassVar[bool] = True
    """False for agents that bring their own policy (sb3-ppo)."""

    def __init__(self, policy: TrainablePolicy, env: Any, config: AgentConfig | None = None,
                 env_kwargs: dict[str, Any] | None = None, eval_env: Any = None) -> None:
        self.policy = policy
        self.config = config or self.config_class()
        if not isinstance(self.config, self.config_class):
            raise TypeError(f"{type(self).__name__} takes a {self.config_class.__name__}, got {type(self.config).__name__}")
        c = self.config
        self.env_id = env_id_of(env)
        self.engine_progress = ProgressRelay()  # what the env's engine reports to, when the agent made it
        env_kwargs = engine_reporting_to(env, env_kwargs, self.engine_progress)
        self.collector = self.make_collector(env, env_kwargs)
        self._eval_source = (eval_env if eval_env is not None else env, env_kwargs)
        self._eval_collector: Collector | None = None
        self.rng = np.random.default_rng(c.seed)
        """Draws each round's prompts and inner seeds and nothing else, so that every agent with one seed sees the
        same prompts under the same inner seeds in every round: training curves pair across agents."""
        self.update_rng = np.random.default_rng((c.seed, 1))
        """The algorithm's own randomness (e.g. ReST-EM's order of training examples)."""
        self.round = 0
        self.global_step = 0
        self.history: list[RoundStats] = []
        self.log: RunLog | None = None
        self.run_settings: dict[str, Any] = {}
        """Extra settings ``config.json`` records (e.g. the command line that built the agent)."""

    # --- what an algorithm adds ----------------------------------------------------------------------------
    def make_collector(self, env: Any, env_kwargs: dict[str, Any] | None) -> Collector | None:
        """What runs episodes for :meth:`collect` (an agent that overrides :meth:`run_round` may return None)."""
        c = self.config
        return Collector(env, c.prompts_per_round, c.samples_per_prompt, c.inner_seeds, env_kwargs)

    def collect(self, progress: Callable[[str], None] | None = None) -> Rollouts:
        """One round's self-edits and rewards."""
        return self.collector.collect(self.policy, self.rng, progress=progress, logprobs=self.needs_behaviour_logprobs)

    def update(self, rollouts: Rollouts) -> dict[str, float]:
        """Improve the policy from one round's rollouts; return numbers worth logging (tags of
        :data:`~seal_gym.agents.scalars.SCHEMA`, ``charts/trained_fraction`` always: 0 when nothing was trained)."""
        raise NotImplementedError

    def run_round(self, progress: Callable[[str], None]) -> RoundResult:
        """One round's episodes and update: :meth:`collect`, then :meth:`update`.

        Override it for an agent that collects and updates in one call of its own (sb3-ppo); the loop around it
        (evaluation, logging, checkpoints, resume) stays the same.
        """
        last = self.history[-1].seconds if self.history else {}
        with heartbeat(progress, "sampling and inner loops", last.get("sampling", 0) + last.get("inner_loop", 0),
                       engine=self.engine_progress):
            rollouts = self.collect(progress)
        start = time.perf_counter()
        with heartbeat(progress, "update", last.get("update"), engine=self.engine_progress):
            update = self.update(rollouts)
        return RoundResult(rollouts, update, {**rollouts.seconds, "update": time.perf_counter() - start})

    def kept(self, rollouts: Rollouts) -> list[bool] | None:
        """Which completions the agent's filter keeps (for ``episodes.jsonl`` and ``charts/kept_fraction``), as a
        function of ``rollouts`` alone; None: the agent has no filter."""
        return None

    def declared_info_metrics(self) -> list[str] | None:
        """The step-info keys the env declares worth logging (None: log every numeric info)."""
        return declared_info_metrics(getattr(self.collector, "env", None))

    def algorithm_state(self) -> dict[str, Any]:
        """Extra state a checkpoint must hold (e.g. an optimizer that lives across rounds)."""
        return {}

    def load_algorithm_state(self, state: dict[str, Any]) -> None:
        pass

    # --- the loop --------------------------------------------------------------------------------------------
    def learn(self, rounds: int, run_dir: str | Path | None = None, callback: Callback | None = None,
              progress: Callable[[str], None] | None = None) -> list[RoundStats]:
        """Train until ``rounds`` rounds are done in total (a resumed agent continues where it stopped).

        Args:
            rounds: total rounds of the run.
            run_dir: where events, episodes and checkpoints go (``None``: keep results in memory only).
            callback: called after each round; returning False stops.
            progress: receives one line per phase, a line per batch of inner loops the engine finishes (with the
                time left at the measured rate) and a line every 30 s inside a long phase (see
                :mod:`seal_gym.agents.progress`), e.g. ``print``.
        """
        say = progress or (lambda line: None)
        if run_dir is not None and self.log is None:
            self.log = RunLog(Path(run_dir), self)
        while self.round < rounds:
            stats = self._one_round(rounds, say)
            # The last round's time, not the mean since the start: the first round pays for warm-up.
            eta = stats.seconds["round"] * (rounds - self.round)
            say(f"round {self.round}/{rounds}: reward {stats.reward_mean:.3f} ± {stats.reward_std:.3f}"
                f" (max {stats.reward_max:.3f}), {self.global_step} inner loops so far, ETA {eta / 60:.1f} min")
            if callback is not None and not callback(self, stats):
                break
        if self.log is not None:
            self.log.close()  # flushes, and lets another process resume the run
        return self.history

    def _one_round(self, rounds: int, say: Callable[[str], None]) -> RoundStats:
        c = self.config
        G, n, r = c.prompts_per_round, c.samples_per_prompt, c.inner_seeds
        say(f"round {self.round + 1}/{rounds}: sampling {G * n} self-edits, then {G * n * r} inner loops")
        start = time.perf_counter()
        result = self.run_round(say)
        rollouts = result.rollouts
        self.global_step += rollouts.rewards.size
        seconds = {"sampling": 0.0, "inner_loop": 0.0, "update": 0.0, **result.seconds, "evaluate": 0.0}
        eval_reward = None
        if c.eval_every and (self.round + 1) % c.eval_every == 0:
            evaluate_start = time.perf_counter()
            with heartbeat(say, "evaluation", next((s.seconds["evaluate"] for s in reversed(self.history)
                                                     if s.seconds.get("evaluate")), None), engine=self.engine_progress):
                eval_reward = self.evaluate()
            seconds["evaluate"] = time.perf_counter() - evaluate_start
        seconds["round"] = time.perf_counter() - start
        kept = self.kept(rollouts)
        before = [key for s in self.history for key in s.extra if key not in LOOP_EXTRA]
        info_keys = info_metric_keys(self.declared_info_metrics(), rollouts, before)
        rewards = rollouts.mean_rewards
        stats = RoundStats(self.round, self.global_step, float(rewards.mean()), float(rewards.std()),
                           float(rewards.max()), result.update, seconds, eval_reward,
                           rollout_scalars(rollouts, kept, info_keys))
        self.round += 1
        self.history.append(stats)  # before the checkpoint, which holds the history
        if self.log is not None:
            self.log.record_round(stats, rollouts, kept)
            self.log.checkpoint(self)
        return stats

    def evaluate(self) -> float:
        """Mean reward of greedy self-edits on ``eval_prompts`` prompts drawn with a fixed seed."""
        if self._eval_collector is None:
            env, kwargs = self._eval_source
            self._eval_collector = Collector(env, self.config.eval_prompts, 1, 1, kwargs)
        rng = np.random.default_rng(self.config.seed + 1_000_003)  # the same draw every time
        return float(self._eval_collector.collect(self.policy, rng, greedy=True, logprobs=False).rewards.mean())

    # --- checkpoints -----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The loop's position and every random state (the policy's weights are saved by the policy)."""
        return {"round": self.round, "global_step": self.global_step, "rng": self.rng.bit_generator.state,
                "update_rng": self.update_rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "history": self.history, "algorithm": self.algorithm_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.round, self.global_step = state["round"], state["global_step"]
        self.rng.bit_generator.state = state["rng"]
        if "update_rng" in state:  # checkpoints before it existed: the update stream starts afresh
            self.update_rng.bit_generator.state = state["update_rng"]
        torch.set_rng_state(state["torch_rng"])
        self.history = list(state["history"])
        self.load_algorithm_state(state["algorithm"])

    def resume(self, run_dir: str | Path) -> None:
        """Continue the run in ``run_dir``: load its last checkpoint; records after it are dropped and redone.

        Raises:
            FileNotFoundError / ValueError: ``run_dir`` is not a run folder of this agent.
        """
        self.log = RunLog.reopen(Path(run_dir), self)
