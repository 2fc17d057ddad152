"""The few-shot (ARC) inner loop: recipe text -> TTT data -> LoRA update -> prediction -> typed result.

:class:`ArcInnerLoop` mirrors the knowledge inner loop: a *list* of :class:`ArcItem` in, one
:class:`ArcResult` each out, every valid and affordable recipe trained in ONE call to the inner-loop engine.
Invalid recipes and recipes over the step budget are never trained; they score 0 with the reason in
``error`` (or, asked with ``score_invalid``, as no training at all). Items that ask for the same recipe on the
same task with the same seed are trained once and share the result (a peaked policy often writes one recipe
several times; its seconds are counted once); so are the reference recipe's adapters, one per task and seed.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Sequence

import torch

from seal_gym.adapt import AdaptOutcome, InnerLoopEngine, LoraSpec
from seal_gym.arc.data import ArcTask
from seal_gym.arc.grids import grid_to_text
from seal_gym.arc.recipe import Recipe, RecipeError, read_recipe
from seal_gym.arc.ttt import TTT_PRESETS, TTTConfig, TTTPlan, build_plan, preset_for, score_outcome
from seal_gym.domain import model_and_engine


UNTRAINED = Recipe(num_train_epochs=0)
"""What an unusable recipe is scored as when asked to (``score_invalid``): no training at all."""


@dataclass(frozen=True)
class ArcItem:
    """One recipe (as the policy wrote it) to try on one task."""

    task: ArcTask
    recipe_text: Any
    seed: int = 0
    """Inner-loop seed (TTT data sampling, LoRA initialisation, data order)."""


@dataclass
class ArcResult:
    """Outcome of one recipe."""

    task_id: str
    error: str | None = None
    """Why the recipe was not trained (invalid, or over the cost guard), else ``None``."""
    recipe: dict[str, Any] | None = None
    """The parsed recipe."""
    action_notes: list[str] = field(default_factory=list)
    """What parsing ignored (e.g. ``"unknown keys ignored: training.lr"``): the recipe trained without it."""
    solved: bool = False
    """Every test output exactly right."""
    cell_accuracy: float = 0.0
    num_ttt_examples: int = 0
    num_optimizer_steps: int = 0
    trained: bool = False
    final_loss: float | None = None
    """Loss of the last optimizer step (``None`` if nothing was trained)."""
    answers: list[str] = field(default_factory=list)
    predictions: list[str | None] = field(default_factory=list)
    """The predicted grid of each test input as text (``None`` where no grid could be read)."""
    logprob: float | None = None
    """The correct test output's mean per-token log-probability after the update (teacher-forced, averaged over
    the voting queries); computed when the run asks for it (``score_logprob``)."""
    reference_metrics: dict[str, float | None] = field(default_factory=dict)
    """:meth:`metrics` of the reference recipe on the same task with the same seed (when the run has one)."""
    build_seconds: float = 0.0
    """Parsing the recipe and building its TTT data (each item's share of the call)."""
    train_seconds: float = 0.0
    predict_seconds: float = 0.0

    @property
    def reward(self) -> float:
        """The binary success (SealARC's default reward)."""
        return 1.0 if self.solved else 0.0

    def metrics(self) -> dict[str, float | None]:
        """The scores reward kinds read: ``success``, ``cell_accuracy`` and ``logprob``."""
        return {"success": self.reward, "cell_accuracy": self.cell_accuracy, "logprob": self.logprob}


def make_ttt_config(ttt: TTTConfig | dict | str | None, lora: LoraSpec | dict | None,
                    device: str | torch.device = "cpu") -> TTTConfig:
    """A :class:`TTTConfig` from the env arguments.

    ``ttt``: ``None`` picks the preset for ``device`` (:func:`~seal_gym.arc.ttt.preset_for`: ``"cpu"`` on a
    CPU, ``"paper"`` elsewhere); a name picks that preset of :data:`~seal_gym.arc.ttt.TTT_PRESETS`; a dict
    overrides fields of the study's defaults (``TTTConfig()``, whatever the device); a TTTConfig is used
    as it is. ``lora`` then replaces the adapter shape.
    """
    if ttt is None:
        ttt = preset_for(device)
    elif isinstance(ttt, str):
        if ttt not in TTT_PRESETS:
            raise ValueError(f"ttt must be a TTTConfig, a dict of its fields, None or one of {sorted(TTT_PRESETS)}; got {ttt!r}")
        ttt = TTT_PRESETS[ttt]
    elif isinstance(ttt, dict):
        fields = dict(ttt)
        if isinstance(fields.get("lora"), dict):
            fields["lora"] = LoraSpec(**fields["lora"])
        ttt = TTTConfig(**fields)
    elif not isinstance(ttt, TTTConfig):
        raise TypeError(f"ttt must be a TTTConfig, a dict of its fields, a preset name or None, got {type(ttt).__name__}")
    if lora is not None:
        lora = LoraSpec(**lora) if isinstance(lora, dict) else lora
        if not isinstance(lora, LoraSpec):
            raise TypeError(f"lora must be a LoraSpec, a dict of its fields or None, got {type(lora).__name__}")
        ttt = replace(ttt, lora=lora)
    return ttt


class ArcInnerLoop:
    """Trains recipes on tasks and checks the adapted model's test predictions.

    Args:
        model: anything :func:`seal_gym.models.load_model` accepts (a shared ModelBundle included).
        engine: an engine name or object (see :func:`seal_gym.adapt.make_engine`). ``"auto"`` batches on CUDA
            only: on a CPU, one task's test-time training already keeps the cores busy, and batching its
            adapters was measured no faster (``benchmarks/RESULTS.md``, "ARC's adapters batched on CPU").
        ttt: a :class:`TTTConfig`, a dict of overrides of the study's defaults, a preset name (``"cpu"``,
            ``"paper"``) or ``None``: the preset for the model's device (see :func:`make_ttt_config`).
        lora: replaces the adapter shape of ``ttt``.
    """

    def __init__(self, model: Any = None, engine: str | InnerLoopEngine = "auto",
                 ttt: TTTConfig | dict | str | None = None, lora: LoraSpec | dict | None = None) -> None:
        options = {"batch_on_cpu": False} if engine == "auto" else {}
        self.bundle, self.engine = model_and_engine(model, engine, **options)
        self.config = make_ttt_config(ttt, lora, self.bundle.device)

    def run(self, items: Sequence[ArcItem], score_logprob: bool = False, reference: Recipe | None = None,
            score_invalid: bool = False) -> list[ArcResult]:
        """One result per item, in order.

        Args:
            items: the recipes to try.
            score_logprob: also compute each result's ``logprob``.
            reference: a recipe also trained once per (task, seed) of the items; its metrics go to each
                result's ``reference_metrics``.
            score_invalid: score an invalid or unaffordable recipe as no training at all (a recipe of 0 epochs)
                instead of leaving its scores at 0; its ``error`` still says why.

        Raises:
            TypeError: if a recipe is not a ``str``.
        """
        for item in items:
            if not isinstance(item.recipe_text, str):
                raise TypeError(f"a SealARC action is the recipe as JSON text (str), got {type(item.recipe_text).__name__}")
        start = time.perf_counter()
        results: list[ArcResult] = []
        jobs: dict[tuple[ArcTask, Recipe, int], TTTPlan] = {}  # one adapter per distinct (task, recipe, seed)
        job_of: list[tuple | None] = []
        for item in items:
            result = ArcResult(item.task.task_id)
            results.append(result)
            recipe, plan = self._read(item, result, score_logprob)
            if recipe is None and score_invalid:
                recipe, plan = UNTRAINED, None
            key = None if recipe is None else (item.task, recipe, item.seed)
            if key is not None and key not in jobs:  # the plan _read built is reused, not built again
                jobs[key] = plan or build_plan(item.task, recipe, self.config, item.seed, with_targets=score_logprob)
            job_of.append(key)
            if reference is not None and (item.task, reference, item.seed) not in jobs:
                jobs[(item.task, reference, item.seed)] = build_plan(item.task, reference, self.config, item.seed,
                                                                     with_targets=score_logprob)
        built = time.perf_counter()
        outcomes = dict(zip(jobs, self.engine.adapt([plan.request for plan in jobs.values()]))) if jobs else {}
        counted: set[tuple] = set()
        for item, result, key in zip(items, results, job_of):
            if key is not None:
                self._fill(result, item.task, jobs[key], outcomes[key], first=key not in counted)
                counted.add(key)
            if reference is not None:
                ref_key = (item.task, reference, item.seed)
                result.reference_metrics = self._fill(ArcResult(item.task.task_id), item.task, jobs[ref_key],
                                                      outcomes[ref_key], first=False).metrics()
        share = (built - start) / max(1, len(items))
        for result in results:
            result.build_seconds = share
        return results

    def _read(self, item: ArcItem, result: ArcResult, with_targets: bool) -> tuple[Recipe | None, TTTPlan | None]:
        """The item's recipe and its plan if it is valid and affordable; else ``(None, None)`` with the reason in
        ``result.error``."""
        read = read_recipe(item.recipe_text)
        if read.unknown_keys:
            result.action_notes.append(f"unknown keys ignored: {', '.join(read.unknown_keys)}")
        recipe = read.recipe
        if isinstance(recipe, RecipeError):
            result.error = f"invalid recipe: {recipe.reason}"
            return None, None
        result.recipe = asdict(recipe)
        plan = build_plan(item.task, recipe, self.config, item.seed, with_targets=with_targets)
        result.num_ttt_examples, result.num_optimizer_steps = plan.num_examples, plan.num_optimizer_steps
        if plan.num_optimizer_steps > self.config.max_optimizer_steps:
            result.error = (f"cost guard: the recipe needs {plan.num_optimizer_steps} optimizer steps, more than "
                            f"the budget of {self.config.max_optimizer_steps}; it was not trained (fewer epochs "
                            "or augmentations fit)")
            return None, None
        return recipe, plan

    @staticmethod
    def _fill(result: ArcResult, task: ArcTask, plan: TTTPlan, outcome: AdaptOutcome, first: bool) -> ArcResult:
        """Write an outcome's scores into ``result`` (its seconds only for the ``first`` item that shares it)."""
        arc_score = score_outcome(task, plan, outcome)
        result.solved, result.cell_accuracy = arc_score.solved, arc_score.cell_accuracy
        result.trained, result.final_loss = outcome.num_optimizer_steps > 0, outcome.final_loss
        result.answers = list(outcome.answers)
        result.predictions = [None if g is None else grid_to_text(g) for g in arc_score.predictions]
        logprobs = [lp for lp in outcome.target_logprobs if lp is not None]
        result.logprob = sum(logprobs) / len(logprobs) if logprobs else None
        result.train_seconds = outcome.train_seconds if first else 0.0
        result.predict_seconds = outcome.answer_seconds if first else 0.0
        return result
