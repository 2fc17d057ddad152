"""A procedural generator of small ARC-style tasks, deterministic from a seed (the offline default).

Each task draws one transformation family, one grid size (the same for all its grids), a small palette,
3–4 demonstrations and one test input. Inputs are sparse: background 0 with coloured cells. Families:

=================  ==========================================================
``flip_lr``         mirror left-right
``flip_ud``         mirror top-bottom
``rot90``           rotate a quarter turn anticlockwise
``rot180``          rotate a half turn
``transpose``       swap rows and columns
``colour_map``      a fixed permutation of the task's colours
``recolour``        every coloured cell (every object) takes one fixed colour
``gravity``         coloured cells fall to the bottom of their column
``tile``            the input repeated side by side, stacked, or 2x2
=================  ==========================================================

:data:`EASY` (the default) is the mix the embedded 135M model can learn by test-time training on a CPU in a
minute or two: 3x3 grids and cell-wise or mirror rules. :data:`FULL` uses every family and 3x3 to 8x8 grids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from seal_gym.arc.data import ArcPair, ArcTask
from seal_gym.arc.grids import from_array

Rule = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class GeneratorConfig:
    """Which tasks :func:`generate_task` draws."""

    families: tuple[str, ...] = ("flip_lr", "flip_ud", "transpose", "colour_map", "recolour")
    """Transformation families to draw from (uniformly)."""
    min_size: int = 3
    """Smallest side of an input grid."""
    max_size: int = 3
    """Largest side of an input grid (``tile`` keeps outputs within 8 by halving it)."""
    min_demos: int = 4
    max_demos: int = 4
    """Number of demonstrations, drawn uniformly in [min_demos, max_demos]."""
    density: tuple[float, float] = (0.35, 0.65)
    """Range of the fraction of coloured cells in an input."""

    def __post_init__(self) -> None:
        unknown = set(self.families) - set(FAMILY_NAMES)
        if not self.families or unknown:
            raise ValueError(f"GeneratorConfig.families must be a non-empty subset of {FAMILY_NAMES}; unknown {sorted(unknown)}")
        if not 2 <= self.min_size <= self.max_size <= 8:
            raise ValueError("GeneratorConfig needs 2 <= min_size <= max_size <= 8")
        if not 2 <= self.min_demos <= self.max_demos <= 8:
            raise ValueError("GeneratorConfig needs 2 <= min_demos <= max_demos <= 8")


def _rule(family: str, rng: np.random.Generator, palette: np.ndarray) -> Rule:
    """The task's transformation; per-task parameters (colours, tiling) are drawn here, once."""
    if family == "flip_lr":
        return np.fliplr
    if family == "flip_ud":
        return np.flipud
    if family == "rot90":
        return lambda a: np.rot90(a, 1)
    if family == "rot180":
        return lambda a: np.rot90(a, 2)
    if family == "transpose":
        return lambda a: a.T
    if family == "colour_map":
        table = np.arange(10)
        table[palette] = rng.permutation(palette) if len(palette) > 1 else palette
        while len(palette) > 1 and np.array_equal(table[palette], palette):
            table[palette] = rng.permutation(palette)
        return lambda a: table[a]
    if family == "recolour":
        target = int(rng.choice(np.setdiff1d(np.arange(1, 10), palette)))
        return lambda a: np.where(a > 0, target, 0)
    if family == "gravity":
        return lambda a: np.stack([np.concatenate([np.zeros((col == 0).sum(), a.dtype), col[col > 0]]) for col in a.T], axis=1)
    if family == "tile":
        reps = [(1, 2), (2, 1), (2, 2)][int(rng.integers(3))]
        return lambda a: np.tile(a, reps)
    raise ValueError(f"unknown family {family!r}")


FAMILY_NAMES = ("flip_lr", "flip_ud", "rot90", "rot180", "transpose", "colour_map", "recolour", "gravity", "tile")
EASY = GeneratorConfig()
FULL = GeneratorConfig(families=FAMILY_NAMES, min_size=3, max_size=8, min_demos=3, max_demos=4)


def _input_grid(rng: np.random.Generator, height: int, width: int, palette: np.ndarray, density: float) -> np.ndarray:
    cells = rng.random((height, width)) < density
    return np.where(cells, rng.choice(palette, size=(height, width)), 0)


def generate_task(seed: int, config: GeneratorConfig = EASY) -> ArcTask:
    """A task drawn from ``config``; the same seed always gives the same task.

    Every demonstration input differs from the others and from the test input, and the rule changes every
    grid it is applied to (no demonstration where input == output).
    """
    rng = np.random.default_rng(seed)
    family = config.families[int(rng.integers(len(config.families)))]
    limit = max(config.min_size, min(config.max_size, 4)) if family == "tile" else config.max_size
    height, width = (int(rng.integers(config.min_size, limit + 1)) for _ in range(2))
    if family in ("rot90", "transpose"):
        width = height  # square grids keep the task a plain rotation, not also a reshape
    palette = np.sort(rng.choice(np.arange(1, 10), size=int(rng.integers(2, 5)), replace=False))
    rule = _rule(family, rng, palette)
    num_demos = int(rng.integers(config.min_demos, config.max_demos + 1))
    pairs: list[ArcPair] = []
    seen: set = set()
    for _ in range(1000):
        grid = _input_grid(rng, height, width, palette, float(rng.uniform(*config.density)))
        key = grid.tobytes()
        output = rule(grid)
        if key in seen or (output.shape == grid.shape and np.array_equal(output, grid)) or not grid.any():
            continue
        seen.add(key)
        pairs.append(ArcPair(from_array(grid), from_array(output)))
        if len(pairs) == num_demos + 1:
            break
    else:  # pragma: no cover - 1000 draws always suffice for sizes >= 2
        raise RuntimeError(f"could not draw distinct grids for {family} {height}x{width}")
    return ArcTask(f"gen-{family}-{seed}", tuple(pairs[:-1]), (pairs[-1].input,), (pairs[-1].output,))


def generate_tasks(num_tasks: int, seed: int = 0, config: GeneratorConfig = EASY) -> list[ArcTask]:
    """``num_tasks`` tasks with seeds ``seed, seed + 1, ...``."""
    return [generate_task(seed + i, config) for i in range(num_tasks)]
