"""Augmentations of ARC tasks, grouped into the four families a recipe switches on or off.

- basic: rotations, flips / reflections, transposes, translation (cyclic shift);
- size: resolution doubling, height doubling, width doubling;
- chain: a basic geometric transform followed by resolution doubling;
- repeat: tiling (side by side, stacked, 2x2).

A transform is applied to *every* grid of a training example (inputs and outputs alike), which turns a task
into a related, equally consistent task. Colour permutations (background 0 kept) and demonstration-order
permutations are applied on top of every family. Geometric transforms are invertible, which augmented
inference uses to map predictions back (:data:`INVERTIBLE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from seal_gym.arc.data import ArcPair
from seal_gym.arc.grids import MAX_SIDE, Grid, from_array, to_array

ArrayFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Transform:
    """A named transform of one grid; ``inverse`` is set when it can be undone exactly."""

    name: str
    forward: ArrayFn
    inverse: ArrayFn | None = None

    def __call__(self, grid: Grid) -> Grid:
        return from_array(self.forward(to_array(grid)))

    def undo(self, grid: Grid) -> Grid:
        if self.inverse is None:
            raise ValueError(f"transform {self.name} has no inverse")
        return from_array(self.inverse(to_array(grid)))


def _upscale(a: np.ndarray) -> np.ndarray:
    return np.kron(a, np.ones((2, 2), dtype=a.dtype))


def _then(first: Transform, second: ArrayFn, name: str) -> Transform:
    return Transform(name, lambda a: second(first.forward(a)))


IDENTITY = Transform("identity", lambda a: a, lambda a: a)
BASIC = (
    Transform("rot90", lambda a: np.rot90(a, 1), lambda a: np.rot90(a, -1)),
    Transform("rot180", lambda a: np.rot90(a, 2), lambda a: np.rot90(a, 2)),
    Transform("rot270", lambda a: np.rot90(a, 3), lambda a: np.rot90(a, 1)),
    Transform("flip_lr", np.fliplr, np.fliplr),
    Transform("flip_ud", np.flipud, np.flipud),
    Transform("transpose", lambda a: a.T, lambda a: a.T),
    Transform("anti_transpose", lambda a: np.rot90(a, 2).T, lambda a: np.rot90(a.T, 2)),
    Transform("translate", lambda a: np.roll(a, (1, 1), axis=(0, 1)), lambda a: np.roll(a, (-1, -1), axis=(0, 1))),
)
SIZE = (
    Transform("upscale2", _upscale),
    Transform("double_height", lambda a: np.repeat(a, 2, axis=0)),
    Transform("double_width", lambda a: np.repeat(a, 2, axis=1)),
)
CHAIN = tuple(_then(t, _upscale, f"{t.name}+upscale2") for t in BASIC if t.name in ("rot90", "flip_lr", "flip_ud", "transpose"))
REPEAT = (
    Transform("tile_lr", lambda a: np.tile(a, (1, 2))),
    Transform("tile_ud", lambda a: np.tile(a, (2, 1))),
    Transform("tile_2x2", lambda a: np.tile(a, (2, 2))),
)
FAMILIES: dict[str, tuple[Transform, ...]] = {"basic": BASIC, "size": SIZE, "chain": CHAIN, "repeat": REPEAT}
INVERTIBLE = (IDENTITY,) + BASIC
"""Transforms usable for augmented inference (identity first: it wins ties in the vote)."""


def transforms_for(basic: bool, size: bool, chain: bool, repeat: bool) -> list[Transform]:
    """The transforms of the families switched on, in a fixed order."""
    chosen = [("basic", basic), ("size", size), ("chain", chain), ("repeat", repeat)]
    return [t for family, on in chosen if on for t in FAMILIES[family]]


def apply_to_pairs(pairs: Sequence[ArcPair], transform: Callable[[Grid], Grid]) -> tuple[ArcPair, ...] | None:
    """``transform`` applied to every grid; ``None`` if some grid would exceed 30x30."""
    out = []
    for pair in pairs:
        new = ArcPair(transform(pair.input), transform(pair.output))
        if max(len(new.input), len(new.input[0]), len(new.output), len(new.output[0])) > MAX_SIDE:
            return None
        out.append(new)
    return tuple(out)


def colour_permutation(rng: np.random.Generator) -> np.ndarray:
    """A lookup table that permutes colours 1–9 and keeps the background 0."""
    return np.concatenate([[0], rng.permutation(np.arange(1, 10))])


def recolour(grid: Grid, table: np.ndarray) -> Grid:
    return from_array(table[to_array(grid)])

