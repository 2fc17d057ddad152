"""ARC grids: the :data:`Grid` type, its text format and the parser that reads a model's answer back.

Text format: one line per row, one digit per cell, no separators, and a line holding only ``#`` after the
last row::

    012
    340
    #

Why: the tokenizers we target (SmolLM2's, the byte-level test tokenizer) give every digit its own token and
``\\n`` its own token, so a cell costs exactly one token and a row one more; spaces between cells would double
the length of every sequence (and so the cost of every training step) for no information. The ``#`` line
marks the end of the output grid: the probe in ``docs/seal.md`` found the small model running on past the
grid when nothing marked its end, so the parser stops at the marker (or at the first line that is not a
row of digits) and never reads beyond it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Grid = tuple[tuple[int, ...], ...]
"""An ARC grid: rows of colours 0–9, rectangular, 1 to 30 cells on each side. Immutable and hashable."""

MAX_SIDE = 30
END_MARKER = "#"


def as_grid(value: Any) -> Grid:
    """``value`` (nested lists, tuples or a 2-D integer array) as a validated :data:`Grid`.

    Raises:
        ValueError: if it is not rectangular, not 1–30 on each side, or holds a value outside 0–9.
    """
    array = np.asarray(value)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"a grid must be a non-empty 2-D array of colours, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        if not (np.issubdtype(array.dtype, np.floating) and np.all(array == np.round(array))):
            raise ValueError(f"grid cells must be integers 0-9, got dtype {array.dtype}")
    height, width = array.shape
    if height > MAX_SIDE or width > MAX_SIDE:
        raise ValueError(f"a grid is at most {MAX_SIDE}x{MAX_SIDE}, got {height}x{width}")
    if array.min() < 0 or array.max() > 9:
        raise ValueError("grid cells must be colours 0-9")
    return tuple(tuple(int(c) for c in row) for row in array.tolist())


def to_array(grid: Grid) -> np.ndarray:
    return np.asarray(grid, dtype=np.int64)


def from_array(array: np.ndarray) -> Grid:
    return tuple(tuple(int(c) for c in row) for row in np.asarray(array).tolist())


def shape(grid: Grid) -> tuple[int, int]:
    return len(grid), len(grid[0])


def grid_to_text(grid: Grid) -> str:
    """Rows of digits joined by newlines (no end marker; see :func:`answer_text`)."""
    return "\n".join("".join(str(c) for c in row) for row in grid)


def answer_text(grid: Grid) -> str:
    """The text a model is trained to write for an output grid: the rows, then the ``#`` end line."""
    return f"{grid_to_text(grid)}\n{END_MARKER}"


def parse_grid(text: str, expected_rows: int | None = None) -> Grid | None:
    """Read a grid from the start of a model's answer; ``None`` if there is no well-formed grid.

    Reads rows of digits until the ``#`` marker, the first line that is not a row of digits, or (when
    ``expected_rows`` is given) that many rows, whichever comes first. Blank lines before the grid are
    skipped. The rows must all have the same width.

    >>> parse_grid("01\\n23\\n#\\n99")
    ((0, 1), (2, 3))
    >>> parse_grid("01\\n234") is None
    True
    """
    rows: list[tuple[int, ...]] = []
    for line in text.replace("\r", "").split("\n"):
        line = line.strip()
        if not rows and not line:
            continue
        if line.startswith(END_MARKER) or not line.isdigit() or not line.isascii():
            break
        rows.append(tuple(int(c) for c in line))
        if expected_rows is not None and len(rows) == expected_rows:
            break
    if not rows or len(rows) > MAX_SIDE or len({len(r) for r in rows}) != 1 or len(rows[0]) > MAX_SIDE:
        return None
    return tuple(rows)


def cell_accuracy(predicted: Grid | None, target: Grid) -> float:
    """Fraction of cells right; 0.0 when the shapes differ or there is no prediction."""
    if predicted is None or shape(predicted) != shape(target):
        return 0.0
    return float(np.mean(to_array(predicted) == to_array(target)))

