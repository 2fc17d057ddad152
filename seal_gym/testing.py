"""Test doubles for envs and agents: an inner-loop engine whose answers are scripted.

On a tiny random model every accuracy is 0, so a test that compares two rewards there proves nothing.
:class:`ScriptedEngine` trains nothing: it answers from two functions the test writes, so every reward it
leads to is known in advance, and it records every request it was sent.

>>> engine = ScriptedEngine(lambda request, query: "42", lambda query: "no idea")
>>> engine.answer([Query("q")]), engine.adapt([AdaptRequest((), (Query("q"),))])[0].answers
(['no idea'], ['42'])
"""

from __future__ import annotations

from typing import Callable, Sequence

import gymnasium as gym

from seal_gym.adapt.types import AdaptOutcome, AdaptRequest, LoraSpec, Query
from seal_gym.arc.data import ArcTask
from seal_gym.arc.grids import answer_text, grid_to_text
from seal_gym.domain_spec import DomainSpec, Preset
from seal_gym.sampling import SamplingConfig
from seal_gym.spaces import FreeText


class ScriptedEngine:
    """An inner-loop engine (see :class:`~seal_gym.adapt.InnerLoopEngine`) with scripted answers.

    Args:
        after_training: the answer to ``query`` of a model adapted on ``request``.
        before_training: the base model's answer to ``query``.
        target_logprob: the log-probability of ``query.target`` of a model adapted on ``request`` (asked
            only for queries with a target); default: none is reported.
    """

    def __init__(self, after_training: Callable[[AdaptRequest, Query], str],
                 before_training: Callable[[Query], str] = lambda query: "",
                 target_logprob: Callable[[AdaptRequest, Query], float] | None = None) -> None:
        self.after_training, self.before_training = after_training, before_training
        self.target_logprob = target_logprob
        self.calls: list[list[AdaptRequest]] = []
        """The requests of every ``adapt`` call, in order."""

    def adapt(self, requests: Sequence[AdaptRequest]) -> list[AdaptOutcome]:
        self.calls.append(list(requests))
        return [AdaptOutcome(answers=[self.after_training(r, q) for q in r.queries], losses=[],
                             num_train_tokens=0, num_optimizer_steps=0, train_seconds=0.0, answer_seconds=0.0,
                             target_logprobs=self._scores(r))
                for r in requests]

    def _scores(self, request: AdaptRequest) -> list[float | None]:
        if self.target_logprob is None or not any(q.target for q in request.queries):
            return []
        return [self.target_logprob(request, q) if q.target else None for q in request.queries]

    def answer(self, queries: Sequence[Query]) -> list[str]:
        return [self.before_training(q) for q in queries]



def recipe_paying_engine(tasks: Sequence[ArcTask], learning_rate: float = 1e-3,
                         loss_on: str = "completion") -> ScriptedEngine:
    """A SealARC engine that solves a task of ``tasks`` exactly when the recipe trains at ``learning_rate`` with
    the loss on ``loss_on`` ("completion": output tokens only): 1 recipe in 10 of the recipe grid pays, so an
    agent that learns finds it. Answers every other query (and every other recipe) with a wrong grid."""
    solutions = {grid_to_text(t.test_inputs[0]): answer_text(t.test_outputs[0]) for t in tasks if t.test_outputs}

    def after_training(request: AdaptRequest, query: Query) -> str:
        test_input = query.prompt.rsplit("Input:\n", 1)[-1].removesuffix("\nOutput:\n")
        right = request.train.learning_rate == learning_rate and request.train.loss_on == loss_on
        return solutions.get(test_input, "0") if right else "0"

    return ScriptedEngine(after_training)


class TargetCharEnv(gym.Env[str, str]):
    """A one-step text env whose reward is known: the fraction of the action's characters that are in ``targets``.

    A cheap testbed for agents (no inner loop at all): any optimizer that works should raise the reward.
    The observation is one of a few fixed prompts, drawn with ``np_random``; ``inner_seed`` in reset options
    is accepted and ignored, as the seal_gym envs would use it.

    >>> env = TargetCharEnv(targets="ab")
    >>> _ = env.reset(seed=0)
    >>> env.step("aac!")[1]
    0.5
    """

    PROMPTS = ("Write something.", "Say anything.", "Go on:")

    def __init__(self, targets: str = "a", max_chars: int = 1000) -> None:
        if not targets:
            raise ValueError("targets must name at least one character")
        self.targets = frozenset(targets)
        self.observation_space = FreeText(200)
        self.action_space = FreeText(max_chars)
        self._prompt = ""

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        index = int(self.np_random.integers(len(self.PROMPTS)))
        self._prompt = self.PROMPTS[index]
        return self._prompt, {"prompt_index": index}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        reward = sum(ch in self.targets for ch in action) / max(1, len(action))
        return self._prompt, float(reward), True, False, {"length": len(action)}


TESTBED_LORA = LoraSpec(rank=8, alpha=16.0, target_modules=("q_proj", "v_proj", "lm_head"))
"""The testbed policy's adapter. lm_head is wrapped too: on the random tiny model the hidden states barely
move the tied output layer, so without it a known reward is not learnable in a few rounds."""
TESTBED_SAMPLING = SamplingConfig(temperature=1.0, max_new_tokens=16)
"""How the testbed policy samples: short texts at temperature 1."""

# The toy's smoke run learns: the testbed's policy shape and sampling, 4 prompts x 16 samples, 5 rounds on the
# tiny model (the reward rises within a minute on 2 cores: benchmarks/RESULTS.md, "A smoke run that learns").
SPEC = DomainSpec(
    name="target-char",
    env_ids=("seal_gym/TargetChar-v0",),
    presets={"smoke": Preset(5, "tiny-random", dict(prompts_per_round=4, samples_per_prompt=16, learning_rate=3e-2),
                             TESTBED_SAMPLING, TESTBED_LORA)},
)
