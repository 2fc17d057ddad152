"""SEAL's few-shot (ARC) table: in context, the default TTT recipe, recipes a policy writes, and the oracle.

Every recipe of a task and seed is trained and scored exactly as ``SealARC-v0``'s ``step`` would, all in one
call to the inner-loop engine (or in calls of :attr:`ArcEvalConfig.adapters_per_call`). Conditions:

- ``in_context``: no training (the demonstrations are in the prompt anyway);
- ``default``: TTT with the default recipe;
- one condition per :class:`~seal_gym.self_edits.SelfEdits` source: TTT with each recipe it
  wrote (the paper samples 5 per task from the policy); an invalid or unaffordable recipe scores 0;
- each recipe of a small grid, and ``oracle``: per task and seed, the best grid recipe.

A task's success rate in a condition is the mean over its recipes and seeds; tables report the mean ± standard
error over tasks, with each task's rate in :meth:`ArcEvaluation.per_task`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

from seal_gym.arc.data import ArcTask
from seal_gym.arc.inner_loop import ArcInnerLoop, ArcItem
from seal_gym.arc.recipe import Recipe, Strategy
from seal_gym.evaluation.charts import bar_chart
from seal_gym.self_edits import SelfEdits
from seal_gym.stats import format_table, mean_stderr

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ORACLE = "oracle"
IN_CONTEXT = Recipe(use_basic_augmentations=False, num_train_epochs=0)
"""The recipe that trains nothing: the model answers from the demonstrations in its prompt."""


@dataclass(frozen=True)
class RecipeGrid:
    """The recipes the oracle picks from: every combination of these values."""

    learning_rates: tuple[float, ...] = (3e-4, 3e-3)
    """Peak learning rates."""
    epochs: tuple[int, ...] = (2,)
    """Training epochs."""
    basic: tuple[bool, ...] = (True,)
    """Basic augmentations off / on."""
    strategies: tuple[Strategy, ...] = ("train_using_output_tokens",)
    """Training strategies."""

    def recipes(self) -> dict[str, Recipe]:
        """name -> recipe, e.g. ``grid-basic-output-lr0.0003-ep2``."""
        out = {}
        for basic, strategy, lr, epochs in itertools.product(self.basic, self.strategies, self.learning_rates, self.epochs):
            name = f"grid-{'basic' if basic else 'plain'}-{strategy.rsplit('_', 2)[-2]}-lr{lr:g}-ep{epochs}"
            out[name] = Recipe(use_basic_augmentations=basic, strategy=strategy, learning_rate=lr, num_train_epochs=epochs)
        return out


@dataclass(frozen=True)
class ArcEvalConfig:
    """Which fixed conditions run."""

    in_context: bool = True
    """Score the model without training."""
    default: Recipe | None = field(default_factory=Recipe)
    """The default recipe (None: skip that condition)."""
    grid: RecipeGrid | None = field(default_factory=RecipeGrid)
    """The oracle's grid (None: no grid, no oracle)."""
    seeds: int = 1
    """TTT seeds per recipe: 0, 1, ..."""
    score_logprob: bool = False
    """Also score each run's dense reward (the correct output's log-probability, :attr:`ArcRun.logprob`)."""
    adapters_per_call: int | None = None
    """At most this many adapters an engine call (``None``: a task's every run in one call). 1 trains every
    adapter alone, so that runs pair exactly across evaluations: which adapters share a batch changes the float
    reductions, and training amplifies that (benchmarks/RESULTS.md, batching divergence)."""

    def __post_init__(self) -> None:
        if self.seeds < 1 or (self.adapters_per_call is not None and self.adapters_per_call < 1):
            raise ValueError(f"ArcEvalConfig needs seeds >= 1 and adapters_per_call >= 1 (or None), got seeds="
                             f"{self.seeds}, adapters_per_call={self.adapters_per_call}")


@dataclass
class ArcRun:
    """One recipe on one task with one seed."""

    task_id: str
    condition: str
    sample: int
    """Index of the recipe among its condition's recipes for the task."""
    seed: int
    recipe_text: str
    reward: float
    cell_accuracy: float
    num_optimizer_steps: int
    trained: bool
    final_loss: float | None
    error: str | None
    prediction: str | None
    logprob: float | None = None
    """The dense reward: the correct test output's mean per-token log-probability after the update (when the
    evaluation scores it: :attr:`ArcEvalConfig.score_logprob`; ``None`` for a recipe that was not trained)."""


@dataclass
class ArcLine:
    """One condition over all tasks."""

    condition: str
    label: str
    tasks: int
    runs: int
    success: float
    """Mean over tasks of each task's success rate, in %."""
    success_se: float
    cell_accuracy: float
    mean_steps: float


@dataclass
class ArcEvaluation:
    labels: dict[str, str]
    """condition -> label, in table order (the oracle last)."""
    runs: list[ArcRun]
    task_ids: list[str]

    def per_task(self) -> dict[str, dict[str, float]]:
        """condition -> task id -> success rate (0..1); the oracle takes the best grid run per task and seed."""
        rates: dict[str, dict[str, float]] = {}
        for condition in self.labels:
            for task_id in self.task_ids:
                rewards = [r.reward for r in self.runs_of(condition, task_id)]
                if rewards:
                    rates.setdefault(condition, {})[task_id] = sum(rewards) / len(rewards)
        return rates

    def runs_of(self, condition: str, task_id: str) -> list[ArcRun]:
        """The runs that make ``condition``'s score on a task: its own, or the oracle's best grid run per seed."""
        if condition != ORACLE:
            return [r for r in self.runs if r.condition == condition and r.task_id == task_id]
        grid = [r for r in self.runs if r.condition.startswith("grid-") and r.task_id == task_id]
        seeds = sorted({r.seed for r in grid})
        return [max((r for r in grid if r.seed == s), key=lambda r: (r.reward, r.cell_accuracy)) for s in seeds]

    def summary(self) -> list[ArcLine]:
        lines = []
        per_task = self.per_task()
        for condition, label in self.labels.items():
            runs = [r for t in self.task_ids for r in self.runs_of(condition, t)]
            if not runs:
                continue
            success, se = mean_stderr([100 * v for v in per_task[condition].values()])
            lines.append(ArcLine(condition, label, len(per_task[condition]), len(runs), success, se,
                                 sum(r.cell_accuracy for r in runs) / len(runs),
                                 sum(r.num_optimizer_steps for r in runs) / len(runs)))
        return lines

    def table(self) -> str:
        rows = [[line.label, str(line.tasks), str(line.runs), f"{line.success:.1f} ± {line.success_se:.1f}",
                 f"{line.cell_accuracy:.2f}", f"{line.mean_steps:.0f}"] for line in self.summary()]
        return format_table(["condition", "tasks", "runs", "success % (tasks)", "cell acc", "steps"], rows)

    def chart(self, title: str) -> "Figure":
        """Bars of every condition's success rate, with standard-error bars over tasks."""
        lines = self.summary()
        return bar_chart([line.label for line in lines],
                         {"success": ([line.success for line in lines], [line.success_se for line in lines])},
                         title=title, ylabel="success % (mean ± s.e. over tasks)")

    def task_table(self) -> str:
        """Success % of every condition (columns) on every task (rows)."""
        per_task = self.per_task()
        conditions = [c for c in self.labels if c in per_task]
        rows = [[task_id, *[f"{100 * per_task[c][task_id]:.0f}" if task_id in per_task[c] else "-" for c in conditions]]
                for task_id in self.task_ids]
        return format_table(["task", *conditions], rows)


def condition_labels(recipes: dict[str, SelfEdits], config: ArcEvalConfig) -> dict[str, str]:
    """condition -> label for the conditions that run, in table order."""
    labels = {}
    if config.in_context:
        labels["in_context"] = "in context (no training)"
    if config.default is not None:
        labels["default"] = "TTT, default recipe"
    labels.update({name: source.label for name, source in recipes.items()})
    if config.grid is not None:
        labels.update({name: f"TTT, {name}" for name in config.grid.recipes()})
        labels[ORACLE] = "oracle (best grid recipe per task)"
    return labels


def evaluate_arc(loop: ArcInnerLoop, tasks: Sequence[ArcTask], recipes: dict[str, SelfEdits] | None = None,
                 config: ArcEvalConfig | None = None,
                 on_task: Callable[[list[ArcRun]], None] | None = None) -> ArcEvaluation:
    """Every condition on every task; one inner-loop call per task (or per ``config.adapters_per_call`` runs).

    Args:
        recipes: condition name -> recipe texts written for each task (``per_task`` aligned with ``tasks``).
        on_task: called with each task's runs as they come.
    """
    config = config or ArcEvalConfig()
    recipes = recipes or {}
    for name, source in recipes.items():
        if len(source.per_task) != len(tasks):
            raise ValueError(f"recipes {name!r} cover {len(source.per_task)} tasks, not {len(tasks)}")
    fixed: dict[str, Recipe] = {}
    if config.in_context:
        fixed["in_context"] = IN_CONTEXT
    if config.default is not None:
        fixed["default"] = config.default
    fixed.update(config.grid.recipes() if config.grid is not None else {})
    runs: list[ArcRun] = []
    for t, task in enumerate(tasks):
        jobs = [(name, 0, recipe.to_json()) for name, recipe in fixed.items()]
        jobs += [(name, k, text) for name, source in recipes.items() for k, text in enumerate(source.per_task[t])]
        jobs = [(name, k, text, seed) for seed in range(config.seeds) for name, k, text in jobs]
        items = [ArcItem(task, text, seed) for _, _, text, seed in jobs]
        size = config.adapters_per_call or max(1, len(items))
        results = [r for start in range(0, len(items), size)
                   for r in loop.run(items[start:start + size], score_logprob=config.score_logprob)]
        mine = [ArcRun(task.task_id, name, k, seed, text, r.reward, r.cell_accuracy, r.num_optimizer_steps, r.trained,
                       r.final_loss, r.error, (r.predictions or [None])[0], r.logprob)
                for (name, k, text, seed), r in zip(jobs, results)]
        runs.extend(mine)
        if on_task:
            on_task(mine)
    return ArcEvaluation(condition_labels(recipes, config), runs, [t.task_id for t in tasks])
