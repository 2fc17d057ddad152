"""Test-time training for ARC: a recipe and a task become one :class:`~seal_gym.adapt.AdaptRequest`.

Training data (as in the SEAL study, after Akyürek et al.'s TTT): leave-one-out tasks built from the
demonstrations — each demonstration in turn is the query, and the others (all of them, or all but one more:
"leave out 1 and 2") are its context — then every transform of the families the recipe switches on, then a
colour-permuted, demonstration-shuffled copy of each; duplicates dropped; a seeded sample of at most
``max_examples``. One sequence per example: prompt = context demonstrations + query input, completion =
query output (see :mod:`seal_gym.arc.grids` for the text format).

Prediction: the adapted model answers the test input greedily; with ``augmented_inference`` it also answers
the 8 geometric transforms of the whole task, every answer is mapped back by the inverse transform, and the
most frequent grid wins (the untransformed answer breaks ties).
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from seal_gym.adapt.types import AdaptOutcome, AdaptRequest, LoraSpec, Query, Schedule, TrainSequence, TrainSpec
from seal_gym.arc import augment
from seal_gym.arc.data import ArcPair, ArcTask
from seal_gym.arc.grids import END_MARKER, MAX_SIDE, Grid, answer_text, cell_accuracy, grid_to_text, parse_grid
from seal_gym.arc.recipe import Recipe

ARC_LORA = LoraSpec(rank=128, alpha=16.0, target_modules=("q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"))
"""The study's ARC adapter: rank 128, alpha 16 on q, v, gate, up, down."""


@dataclass(frozen=True)
class TTTConfig:
    """Everything about test-time training that the recipe does not choose. Defaults follow the study."""

    max_examples: int = 250
    """Cap on test-time-training examples (sequences)."""
    max_optimizer_steps: int = 375
    """Cost guard: a recipe needing more optimizer steps is not trained and scores 0."""
    leave_out: tuple[int, ...] = (1, 2)
    """Leave-n-out task sizes built from the demonstrations."""
    permute_colours: bool = True
    """Add a colour-permuted copy of every example (background 0 kept)."""
    permute_demos: bool = True
    """Shuffle the demonstration order of those copies."""
    lora: LoraSpec = field(default_factory=lambda: ARC_LORA)
    """Adapter shape."""
    batch_size: int = 2
    """Sequences per optimizer step."""
    schedule: Schedule = "cosine"
    """Learning-rate schedule."""
    warmup_steps: int = 0
    """Linear warm-up steps before the schedule."""
    weight_decay: float = 0.0
    """AdamW weight decay on the LoRA weights."""
    max_grad_norm: float | None = 1.0
    """Gradient clipping; None disables it."""
    max_length: int = 8192
    """Training sequences are cut to this many tokens."""
    augmented_inference: bool = False
    """Vote over the answers to the 8 geometric transforms of the task (9 queries instead of 1)."""
    max_new_tokens: int | None = None
    """Answer length; default: twice the longest demonstration output (in characters) + 8, at most 960."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "leave_out", tuple(self.leave_out))  # a list (JSON's, a resumed run's) is unhashable
        if self.max_examples < 1 or self.max_optimizer_steps < 0:
            raise ValueError("TTTConfig needs max_examples >= 1 and max_optimizer_steps >= 0")
        if not self.leave_out or any(n < 1 for n in self.leave_out):
            raise ValueError(f"TTTConfig.leave_out must hold sizes >= 1, e.g. (1, 2); got {self.leave_out}")
        if self.batch_size < 1:
            raise ValueError(f"TTTConfig.batch_size must be >= 1, got {self.batch_size}")


TTT_PRESETS = {
    "paper": TTTConfig(),
    "cpu": TTTConfig(max_examples=24, augmented_inference=True),
}
"""``paper``: the study's settings (a GPU's budget: 250 examples); ``cpu``: 24 examples and a vote over the 8
geometric transforms (the vote fixes one-cell slips), for a CPU (the cost of a step under each: docs/costs.md).
See :func:`preset_for` for which one an env gets by default."""


def preset_for(device: str | torch.device) -> TTTConfig:
    """The default TTT settings on ``device``: the ``"cpu"`` preset on a CPU, the study's elsewhere.

    >>> preset_for("cpu") == TTT_PRESETS["cpu"], preset_for("cuda:0") == TTT_PRESETS["paper"]
    (True, True)
    """
    return TTT_PRESETS["cpu" if torch.device(device).type == "cpu" else "paper"]


@dataclass(frozen=True)
class TTTExample:
    """One training example: context demonstrations and a query pair whose output is the target."""

    demos: tuple[ArcPair, ...]
    query: ArcPair


@dataclass(frozen=True)
class TTTPlan:
    """A request ready for the engine, and how to read its answers back."""

    request: AdaptRequest
    num_examples: int
    """Training examples (= sequences) built from the recipe."""
    inference: tuple[tuple[int, augment.Transform], ...]
    """For every query of the request: (test input index, transform applied to the task)."""

    @property
    def num_optimizer_steps(self) -> int:
        return self.request.num_optimizer_steps()


@dataclass(frozen=True)
class ArcScore:
    """How the predictions compare with the solutions."""

    solved: bool
    """Every test output exactly right."""
    cell_accuracy: float
    """Mean over test inputs of the fraction of cells right (0 for a wrong shape)."""
    predictions: tuple[Grid | None, ...]


def prompt_text(demos: Sequence[ArcPair], query_input: Grid) -> str:
    """The demonstrations and a query input, ending where the model writes the output grid."""
    parts = [f"Input:\n{grid_to_text(d.input)}\nOutput:\n{answer_text(d.output)}\n" for d in demos]
    return "".join(parts) + f"Input:\n{grid_to_text(query_input)}\nOutput:\n"


def leave_out_examples(pairs: Sequence[ArcPair], leave_out: Sequence[int]) -> list[TTTExample]:
    """Each pair as the query, with every context of ``len(pairs) - n`` other pairs (n in ``leave_out``)."""
    examples: list[TTTExample] = []
    for n in leave_out:
        for i, query in enumerate(pairs):
            others = [j for j in range(len(pairs)) if j != i]
            for context in itertools.combinations(others, len(pairs) - n):
                if context:
                    examples.append(TTTExample(tuple(pairs[j] for j in context), query))
    return list(dict.fromkeys(examples))


def _transform_example(example: TTTExample, fn) -> TTTExample | None:
    pairs = augment.apply_to_pairs(example.demos + (example.query,), fn)
    return None if pairs is None else TTTExample(pairs[:-1], pairs[-1])


def build_examples(task: ArcTask, recipe: Recipe, config: TTTConfig, rng: np.random.Generator) -> list[TTTExample]:
    """The recipe's test-time-training examples for ``task`` (at most ``config.max_examples``)."""
    base = leave_out_examples(task.train, config.leave_out)
    transforms = augment.transforms_for(recipe.use_basic_augmentations, recipe.use_size_augmentations,
                                        recipe.use_chain_augmentations, recipe.use_repeat_augmentations)
    pool = list(base)
    for transform in transforms:
        pool.extend(t for t in (_transform_example(e, transform) for e in base) if t is not None)
    if config.permute_colours or config.permute_demos:
        copies = []
        for example in pool:
            if config.permute_colours:
                table = augment.colour_permutation(rng)
                example = _transform_example(example, lambda g, t=table: augment.recolour(g, t))
            if config.permute_demos and len(example.demos) > 1:
                order = rng.permutation(len(example.demos))
                example = TTTExample(tuple(example.demos[k] for k in order), example.query)
            copies.append(example)
        pool.extend(copies)
    pool = list(dict.fromkeys(pool))
    if len(pool) > config.max_examples:
        keep = np.sort(rng.choice(len(pool), size=config.max_examples, replace=False))
        pool = [pool[k] for k in keep]
    return pool


def _max_new_tokens(task: ArcTask, config: TTTConfig) -> int:
    if config.max_new_tokens is not None:
        return config.max_new_tokens
    longest = max(len(answer_text(p.output)) for p in task.train)
    return min(2 * longest + 8, (MAX_SIDE + 1) * MAX_SIDE + 2)


def build_plan(task: ArcTask, recipe: Recipe, config: TTTConfig, seed: int, with_targets: bool = False) -> TTTPlan:
    """Examples, sequences, training spec and queries of one recipe on one task, all seeded by ``seed``;
    ``with_targets``: each query also asks for the teacher-forced log-probability of its correct answer (the
    test output under the query's transform), the dense reward's score."""
    rng = np.random.default_rng(seed)
    examples = build_examples(task, recipe, config, rng)
    sequences = tuple(TrainSequence(prompt_text(e.demos, e.query.input), answer_text(e.query.output)) for e in examples)
    spec = TrainSpec(
        epochs=recipe.num_train_epochs,
        learning_rate=float(recipe.learning_rate),
        batch_size=config.batch_size,
        max_length=config.max_length,
        loss_on="completion" if recipe.strategy == "train_using_output_tokens" else "all",
        schedule=config.schedule,
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        seed=seed,
    )
    transforms = augment.INVERTIBLE if config.augmented_inference else (augment.IDENTITY,)
    max_new = _max_new_tokens(task, config)
    queries, inference = [], []
    outputs = task.test_outputs if with_targets and task.test_outputs is not None else [None] * len(task.test_inputs)
    for index, (test_input, test_output) in enumerate(zip(task.test_inputs, outputs)):
        for transform in transforms:
            demos = augment.apply_to_pairs(task.train, transform)
            target = None if test_output is None else answer_text(transform(test_output))
            # Stop at the grid's end marker: an adapted model writes it, and generating past it is waste.
            queries.append(Query(prompt_text(demos, transform(test_input)), max_new_tokens=max_new,
                                 stop=f"\n{END_MARKER}", target=target))
            inference.append((index, transform))
    request = AdaptRequest(tuple(sequences), tuple(queries), train=spec, lora=config.lora)
    return TTTPlan(request, len(examples), tuple(inference))


def predict(task: ArcTask, plan: TTTPlan, answers: Sequence[str]) -> tuple[Grid | None, ...]:
    """One grid per test input from the answers to ``plan``'s queries (voting when there are several)."""
    votes: list[Counter] = [Counter() for _ in task.test_inputs]
    for (index, transform), answer in zip(plan.inference, answers):
        grid = parse_grid(answer)
        if grid is not None:
            votes[index][transform.undo(grid)] += 1
    # Counter.most_common keeps insertion order among ties, and the identity transform is asked first.
    return tuple(v.most_common(1)[0][0] if v else None for v in votes)


def score(task: ArcTask, predictions: Sequence[Grid | None]) -> ArcScore:
    """Compare ``predictions`` with the task's solutions."""
    if task.test_outputs is None:
        raise ValueError(f"task {task.task_id} has no solutions; it cannot be scored")
    accuracies = [cell_accuracy(p, t) for p, t in zip(predictions, task.test_outputs)]
    solved = all(p == t for p, t in zip(predictions, task.test_outputs))
    return ArcScore(solved, float(np.mean(accuracies)), tuple(predictions))


def score_outcome(task: ArcTask, plan: TTTPlan, outcome: AdaptOutcome) -> ArcScore:
    return score(task, predict(task, plan, outcome.answers))
