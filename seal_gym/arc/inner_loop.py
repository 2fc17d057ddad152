"""The few-shot (ARC) inner loop: recipe text -> TTT data -> LoRA update -> prediction -> typed result.

:class:`ArcInnerLoop` mirrors the knowledge inner loop: a *list* of :class:`ArcItem` in, one
:class:`ArcResult` each out, every valid and affordable recipe trained in ONE call to the inner-loop engine.
Invalid recipes and recipes over the step budget are never trained; they score 0 with the reason in
``error``. Items that ask for the same recipe on the same task with the same seed are trained once and share
the result (a peaked policy often writes one recipe several times; its seconds are counted once).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Sequence

import torch

from seal_gym.adapt import InnerLoopEngine, LoraSpec
from seal_gym.arc.data import ArcTask
from seal_gym.arc.grids import grid_to_text
from seal_gym.arc.recipe import RecipeError, read_recipe
from seal_gym.arc.ttt import TTT_PRESETS, TTTConfig, build_plan, preset_for, score_outcome
from seal_gym.domain import model_and_engine


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
    build_seconds: float = 0.0
    """Parsing the recipe and building its TTT data (each item's share of the call)."""
    train_seconds: float = 0.0
    predict_seconds: float = 0.0

    @property
    def reward(self) -> float:
        return 1.0 if self.solved else 0.0


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
        engine: an engine name or object (see :func:`seal_gym.adapt.make_engine`).
        ttt: a :class:`TTTConfig`, a dict of overrides of the study's defaults, a preset name (``"cpu"``,
            ``"paper"``) or ``None``: the preset for the model's device (see :func:`make_ttt_config`).
        lora: replaces the adapter shape of ``ttt``.
    """

    def __init__(self, model: Any = None, engine: str | InnerLoopEngine = "auto",
                 ttt: TTTConfig | dict | str | None = None, lora: LoraSpec | dict | None = None) -> None:
        self.bundle, self.engine = model_and_engine(model, engine)
        self.config = make_ttt_config(ttt, lora, self.bundle.device)

    def run(self, items: Sequence[ArcItem]) -> list[ArcResult]:
        """One result per item, in order.

        Raises:
            TypeError: if a recipe is not a ``str``.
        """
        for item in items:
            if not isinstance(item.recipe_text, str):
                raise TypeError(f"a SealARC action is the recipe as JSON text (str), got {type(item.recipe_text).__name__}")
        start = time.perf_counter()
        results, pending = [], []
        first_of: dict[tuple[ArcTask, Any, int], int] = {}
        copies: list[tuple[int, int]] = []  # (item, the earlier item with the same task, recipe and seed)
        for k, item in enumerate(items):
            result = ArcResult(item.task.task_id)
            results.append(result)
            read = read_recipe(item.recipe_text)
            if read.unknown_keys:
                result.action_notes.append(f"unknown keys ignored: {', '.join(read.unknown_keys)}")
            recipe = read.recipe
            if isinstance(recipe, RecipeError):
                result.error = f"invalid recipe: {recipe.reason}"
                continue
            result.recipe = asdict(recipe)
            plan = build_plan(item.task, recipe, self.config, item.seed)
            result.num_ttt_examples, result.num_optimizer_steps = plan.num_examples, plan.num_optimizer_steps
            if plan.num_optimizer_steps > self.config.max_optimizer_steps:
                result.error = (f"cost guard: the recipe needs {plan.num_optimizer_steps} optimizer steps, more than "
                                f"the budget of {self.config.max_optimizer_steps}; it was not trained (fewer epochs "
                                "or augmentations fit)")
                continue
            key = (item.task, recipe, item.seed)
            if key in first_of:
                copies.append((k, first_of[key]))
                continue
            first_of[key] = k
            pending.append((k, item.task, plan))
        built = time.perf_counter()
        outcomes = self.engine.adapt([plan.request for _, _, plan in pending]) if pending else []
        for (k, task, plan), outcome in zip(pending, outcomes):
            arc_score = score_outcome(task, plan, outcome)
            results[k].solved, results[k].cell_accuracy = arc_score.solved, arc_score.cell_accuracy
            results[k].trained, results[k].final_loss = outcome.num_optimizer_steps > 0, outcome.final_loss
            results[k].answers = list(outcome.answers)
            results[k].predictions = [None if g is None else grid_to_text(g) for g in arc_score.predictions]
            results[k].train_seconds = outcome.train_seconds
            results[k].predict_seconds = outcome.answer_seconds
        for k, first in copies:
            results[k] = replace(results[first], action_notes=results[k].action_notes, answers=list(results[first].answers),
                                 predictions=list(results[first].predictions), train_seconds=0.0, predict_seconds=0.0)
        share = (built - start) / max(1, len(items))
        for result in results:
            result.build_seconds = share
        return results
