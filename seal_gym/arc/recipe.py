"""The self-edit of SealARC: a test-time-training recipe, written by the policy as JSON.

The JSON follows the SEAL study's schema (:data:`RECIPE_SCHEMA`); the flat form with the same six keys at
the top level is accepted too, and so is a JSON object wrapped in prose or a Markdown code fence (the first
``{...}`` block is read). :func:`parse_recipe` never raises on bad text: it returns a :class:`RecipeError`
whose ``reason`` says what to fix. Keys outside the schema are ignored; :func:`read_recipe` names them.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

Strategy = Literal["train_using_all_tokens", "train_using_output_tokens"]
STRATEGIES: tuple[str, ...] = ("train_using_all_tokens", "train_using_output_tokens")
SWITCHES = ("use_basic_augmentations", "use_size_augmentations", "use_chain_augmentations", "use_repeat_augmentations")
FIELDS = SWITCHES + ("strategy", "learning_rate", "num_train_epochs")
"""Every key of a recipe, in the flat form."""
LR_RANGE = (1e-7, 1e-1)
"""Accepted learning rates (inclusive)."""
MAX_EPOCHS = 100
"""Largest accepted epoch count (the step budget usually bites first)."""
GRID_LEARNING_RATES = (1e-5, 1e-4, 3e-4, 1e-3, 3e-3)
"""The learning rates of the recipe grid (:func:`recipe_grid`)."""
GRID_EPOCHS = (0, 1, 2, 3, 5)
"""The epoch counts of the recipe grid (:func:`recipe_grid`)."""

RECIPE_SCHEMA = """{
  "data_generation": {
    "use_basic_augmentations": true or false,
    "use_size_augmentations": true or false,
    "use_chain_augmentations": true or false,
    "use_repeat_augmentations": true or false
  },
  "training": {
    "strategy": "train_using_all_tokens" or "train_using_output_tokens",
    "learning_rate": number,
    "num_train_epochs": integer
  }
}"""


@dataclass(frozen=True)
class Recipe:
    """A test-time-training recipe: which augmentation families, which loss, how hard to train."""

    use_basic_augmentations: bool = True
    """Rotations, flips, reflections, transposes, translation."""
    use_size_augmentations: bool = False
    """Resolution, height and width doubling."""
    use_chain_augmentations: bool = False
    """A geometric transform followed by resolution doubling."""
    use_repeat_augmentations: bool = False
    """Tiling."""
    strategy: Strategy = "train_using_output_tokens"
    """Loss on every token of a training sequence, or only on the output grid."""
    learning_rate: float = 1e-3
    """Peak learning rate of the cosine schedule (1e-3 suits the rank-128, alpha-16 adapter on a 135M model)."""
    num_train_epochs: int = 2
    """Passes over the test-time-training examples (0: no training)."""

    def __post_init__(self) -> None:
        problem = _check(asdict(self))
        if problem:
            raise ValueError(problem)

    def to_json(self) -> str:
        """The recipe in the study's nested schema (what a policy is asked to write)."""
        flat = asdict(self)
        return json.dumps({
            "data_generation": {k: flat[k] for k in SWITCHES},
            "training": {k: flat[k] for k in ("strategy", "learning_rate", "num_train_epochs")},
        })


@dataclass(frozen=True)
class RecipeError:
    """Why an action is not a valid recipe."""

    reason: str


def _check(flat: dict[str, Any]) -> str | None:
    for key in SWITCHES:
        if not isinstance(flat[key], bool):
            return f"{key} must be true or false, got {flat[key]!r}"
    if flat["strategy"] not in STRATEGIES:
        return f"strategy must be one of {list(STRATEGIES)}, got {flat['strategy']!r}"
    lr = flat["learning_rate"]
    if isinstance(lr, bool) or not isinstance(lr, (int, float)):
        return f"learning_rate must be a number, got {lr!r}"
    if not LR_RANGE[0] <= lr <= LR_RANGE[1]:  # also rejects NaN and infinities
        return f"learning_rate must be finite and in [{LR_RANGE[0]:g}, {LR_RANGE[1]:g}], got {lr!r}"
    epochs = flat["num_train_epochs"]
    if isinstance(epochs, bool) or not isinstance(epochs, int):
        return f"num_train_epochs must be an integer, got {epochs!r}"
    if not 0 <= epochs <= MAX_EPOCHS:
        return f"num_train_epochs must be in [0, {MAX_EPOCHS}], got {epochs}"
    return None


def _first_json_object(text: str) -> Any:
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON object (no '{') in the action")
    value, _ = json.JSONDecoder().raw_decode(text[start:])
    return value


@dataclass(frozen=True)
class ReadRecipe:
    """What :func:`read_recipe` made of an action: the recipe (or why not) and what it ignored."""

    recipe: Recipe | RecipeError
    unknown_keys: tuple[str, ...] = ()
    """Keys the schema does not have, as ``section.key`` or ``key`` (a misspelt key most often): not used."""


def _unknown_keys(value: dict[str, Any]) -> tuple[str, ...]:
    known = {"data_generation": set(SWITCHES), "training": set(FIELDS) - set(SWITCHES)}
    unknown = [k for k in value if k not in known and k not in FIELDS]
    for section, keys in known.items():
        if isinstance(value.get(section), dict):
            # A known key in the other section is still read (the flat form mixes them): only new names count.
            unknown += [f"{section}.{k}" for k in value[section] if k not in keys and k not in FIELDS]
    return tuple(unknown)


def read_recipe(text: str) -> ReadRecipe:
    """:func:`parse_recipe`, plus the keys it ignored (a recipe with a misspelt optional key still trains).

    >>> read_recipe(Recipe().to_json().replace('"num_train_epochs"', '"epochs": 9, "num_train_epochs"')).unknown_keys
    ('training.epochs',)
    """
    try:
        value = _first_json_object(text)
    except (ValueError, RecursionError) as err:
        return ReadRecipe(RecipeError(f"malformed JSON: {err}"))
    if not isinstance(value, dict):
        return ReadRecipe(RecipeError(f"the recipe must be a JSON object, got {type(value).__name__}"))
    unknown = _unknown_keys(value)
    flat = dict(value)
    for section in ("data_generation", "training"):
        if section in value:
            if not isinstance(value[section], dict):
                return ReadRecipe(RecipeError(f"{section} must be a JSON object, got {type(value[section]).__name__}"), unknown)
            flat.update(value[section])
    missing = [k for k in FIELDS if k not in flat]
    if missing:
        return ReadRecipe(RecipeError(f"missing keys: {', '.join(missing)}"), unknown)
    problem = _check(flat)
    if problem:
        return ReadRecipe(RecipeError(problem), unknown)
    return ReadRecipe(Recipe(**{k: flat[k] for k in FIELDS}), unknown)


def parse_recipe(text: str) -> Recipe | RecipeError:
    """The recipe in ``text``, or a :class:`RecipeError` with the reason it is not one.

    >>> parse_recipe('{"data_generation": {"use_basic_augmentations": true, "use_size_augmentations": false,'
    ...   ' "use_chain_augmentations": false, "use_repeat_augmentations": false}, "training": {"strategy":'
    ...   ' "train_using_output_tokens", "learning_rate": 1e-4, "num_train_epochs": 2}}').learning_rate
    0.0001
    >>> parse_recipe('{"training": {}}').reason
    'missing keys: use_basic_augmentations, use_size_augmentations, use_chain_augmentations, use_repeat_augmentations, strategy, learning_rate, num_train_epochs'
    """
    return read_recipe(text).recipe


def recipe_grid(learning_rates: tuple[float, ...] = GRID_LEARNING_RATES,
                epochs: tuple[int, ...] = GRID_EPOCHS) -> list[Recipe]:
    """Every recipe of the grid: four switches x two strategies x ``learning_rates`` x ``epochs``.

    The order is that of ``SealARCStructured-v0``'s ``MultiDiscrete`` action (the last choice varies fastest),
    so index ``i`` of this list is the same recipe for a structured agent and for a text policy restricted to
    the grid (``SamplingConfig(choices="arc-recipes")``).

    >>> grid = recipe_grid()
    >>> len(grid), grid[0].learning_rate, grid[0].num_train_epochs, grid[-1].strategy
    (800, 1e-05, 0, 'train_using_output_tokens')
    """
    return [Recipe(*switches, STRATEGIES[strategy], lr, n)  # type: ignore[arg-type]
            for *switches, strategy, lr, n in itertools.product(*[(False, True)] * len(SWITCHES), range(len(STRATEGIES)),
                                                                 learning_rates, epochs)]


def random_grid_recipes(rng, count: int) -> list[str]:
    """``count`` recipes drawn uniformly from :func:`recipe_grid` with the numpy generator ``rng``, as JSON text
    (a uniformly random ``SealARCStructured-v0`` action: the baseline every recipe policy must beat).

    >>> import numpy as np
    >>> all(parse_recipe(text) in recipe_grid() for text in random_grid_recipes(np.random.default_rng(0), 3))
    True
    """
    grid = recipe_grid()
    return [grid[int(i)].to_json() for i in rng.integers(len(grid), size=count)]

