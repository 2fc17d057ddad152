"""Helpers shared by the native vector environments."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from gymnasium.utils import seeding


def stack_infos(infos: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-env info dicts as Gymnasium vector infos: one array per key (numbers stay numeric; anything else,
    None included, goes into an object array) and a ``_key`` mask."""
    out: dict[str, Any] = {}
    for key in dict.fromkeys(k for info in infos for k in info):
        values = [info.get(key) for info in infos]
        if all(isinstance(v, (bool, int, float, np.number)) for v in values):
            out[key] = np.array(values)
        else:
            out[key] = object_array(values)
        out[f"_{key}"] = np.array([key in info for info in infos])
    return out


def sub_env_rngs(seed: int | Sequence[int] | None, num_envs: int) -> list[np.random.Generator]:
    """One generator per sub-env: ``seed + i`` for an int seed, or one seed each from a list."""
    if seed is None or isinstance(seed, (int, np.integer)):
        seeds = [None if seed is None else int(seed) + i for i in range(num_envs)]
    else:
        seeds = list(seed)
        if len(seeds) != num_envs:
            raise ValueError(f"expected {num_envs} seeds, got {len(seeds)}")
    return [seeding.np_random(s)[0] for s in seeds]


def object_array(values: Sequence[Any]) -> np.ndarray:
    """A 1-D object array of ``values``, filled one by one: ``np.array`` would unpack lists into 2-D."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out
