"""A few numeric features of an ARC task, for agents that act on numbers (e.g. Stable-Baselines3)."""

from __future__ import annotations

import numpy as np

from seal_gym.arc.data import ArcPair

FEATURE_NAMES = (
    "num_demonstrations",      # / 10
    "input_height",            # mean, / 30
    "input_width",             # mean, / 30
    "output_height",           # mean, / 30
    "output_width",            # mean, / 30
    "same_shape",              # fraction of demonstrations with output shape == input shape
    "transposed_shape",        # fraction with output shape == transposed input shape (and not square)
    "area_ratio",              # mean output area / input area, / 4, clipped to 1
    "input_colours",           # mean number of distinct colours in an input, / 10
    "output_colours",          # mean number of distinct colours in an output, / 10
    "colours_kept",            # fraction whose output colours are a subset of the input colours
    "cells_unchanged",         # mean fraction of equal cells where shapes match (0 otherwise)
)


def task_features(demonstrations: list[ArcPair]) -> np.ndarray:
    """:data:`FEATURE_NAMES` of the demonstrations, as float32 in [0, 1]."""
    rows = []
    for pair in demonstrations:
        a, b = np.asarray(pair.input), np.asarray(pair.output)
        same = a.shape == b.shape
        rows.append([
            a.shape[0] / 30, a.shape[1] / 30, b.shape[0] / 30, b.shape[1] / 30,
            float(same), float(a.shape != b.shape and a.shape == b.shape[::-1]),
            min(b.size / a.size / 4, 1.0), len(np.unique(a)) / 10, len(np.unique(b)) / 10,
            float(set(np.unique(b)) <= set(np.unique(a))), float(np.mean(a == b)) if same else 0.0,
        ])
    features = np.concatenate([[min(len(demonstrations) / 10, 1.0)], np.mean(rows, axis=0)])
    return np.clip(features, 0.0, 1.0).astype(np.float32)
