"""A third domain in one file, as a user would write one: the tests train it from the API and from the CLI
(``seal-gym train --env-import tests.toy_domain --env ToyWords-v0 ...``) with no edit anywhere else.

A task is a target word; the policy is asked to write it; the reward is the share of the action's words that
are the target (``hits``), or that minus the same share of the reference action ``""`` (``hits_vs_empty``),
plus the option ``--toy-bonus``. Its data (``--dataset``) is a comma-separated list of words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from seal_gym.domain import Scored
from seal_gym.domain_spec import BUDGET_PRESETS, DomainSpec, OptionGroup
from seal_gym.envs.base import SealEnv
from seal_gym.registration import register_domain
from seal_gym.rewards import RewardKind, RewardKinds

KINDS = RewardKinds("empty", "the empty action", [RewardKind("hits", "hits", "share of the words that are the target")])
KINDS.add_relative("hits")


@dataclass(frozen=True)
class ToySettings:
    """The toy's 'inner loop' settings."""

    bonus: float = 0.0
    """Added to every reward (the tests check that the option reaches the env)."""
    max_words: int = 50
    """Words of an action that count."""


class WordDomain:
    """Draw a word, ask for it, count it."""

    max_observation_chars = 100
    max_action_chars = 1000

    def __init__(self, words: Sequence[str], reward: str, settings: ToySettings) -> None:
        self.words, self.kind, self.settings = list(words), KINDS.get(reward), settings

    def draw(self, rng: np.random.Generator, options: dict[str, Any]) -> str:
        return self.words[int(rng.integers(len(self.words)))]

    def observation(self, task: str) -> str:
        return f"Write the word {task}."

    def reset_info(self, task: str) -> dict[str, Any]:
        return {"task_key": task, "word": task}

    def _hits(self, task: str, text: str) -> float:
        words = text.split()[: self.settings.max_words]
        return sum(w == task for w in words) / max(1, len(words))

    def score(self, items: Sequence[tuple[str, Any, int]]) -> list[Scored]:
        out = []
        for task, action, _ in items:
            metrics, reference = {"hits": self._hits(task, action)}, {"hits": self._hits(task, "")}
            reward = self.kind.value(metrics, reference) + self.settings.bonus
            out.append(Scored(reward, {"hits": metrics["hits"]}, summary=f"{task}: {reward:.2f}"))
        return out


class ToyWordsEnv(SealEnv):
    """The toy domain's env (no language model of its own: no ``model_kwarg``)."""

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(self, words: str = "alpha,beta,gamma", reward: str = "hits", settings: ToySettings | None = None,
                 render_mode: str | None = None) -> None:
        super().__init__(WordDomain(words.split(","), reward, settings or ToySettings()), render_mode)


def check_words(words: str) -> None:
    if not all(w.strip() for w in words.split(",")):
        raise ValueError(f"--dataset {words!r}: a comma-separated list of non-empty words")


SPEC = register_domain(DomainSpec(
    name="toy-words",
    env_ids=("ToyWords-v0",),
    presets={"smoke": BUDGET_PRESETS["smoke"]},
    reward_kinds=KINDS,
    data_keyword="words",
    data_doc="comma-separated words",
    check_data=check_words,
    options=(OptionGroup("toy_", ToySettings, "settings", "the toy's settings"),),
    choices={"toy-words": lambda: ["alpha", "beta", "gamma", "alpha alpha"]},
), {"ToyWords-v0": {"entry_point": ToyWordsEnv}})
