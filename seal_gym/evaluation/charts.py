"""Figures of evaluations: condition bars with error bars, paired differences with their intervals,
forgetting heatmaps. PNG files, no display.

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas, never through ``pyplot``: nothing
global changes (a notebook keeps its inline backend; a server needs no display), and a notebook can still
show the returned figure. matplotlib is imported when a figure is made (``seal-gym --help`` stays quick).
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Series = tuple[Sequence[float], Sequence[float]]
"""Means and their error-bar half-widths, one each per bar label."""


def bar_chart(labels: Sequence[str], series: dict[str, Series], *, title: str, ylabel: str,
              xlabel: str = "condition", ylim: tuple[float, float] | None = (0.0, 100.0)) -> "Figure":
    """Grouped bars: one group per label, one bar per series, each with its error bar and value.

    Args:
        labels: the groups (e.g. conditions), wrapped onto short lines.
        series: name -> (means, errors); the name goes in the legend (e.g. "strict", "F1 >= 0.5").
        ylim: y-axis range; ``None`` lets matplotlib choose.
    """
    width = max(6.0, 1.5 * len(labels) + 2.0)
    figure = _figure((width, 4.8))
    axes = figure.add_subplot()
    bar = 0.8 / max(1, len(series))
    for k, (name, (means, errors)) in enumerate(series.items()):
        xs = [i - 0.4 + bar * (k + 0.5) for i in range(len(labels))]
        bars = axes.bar(xs, [_finite(m) for m in means], bar, yerr=[_finite(e) for e in errors], capsize=4,
                        label=name, error_kw={"elinewidth": 1.2})
        axes.bar_label(bars, labels=[f"{m:.1f}" if math.isfinite(m) else "n/a" for m in means], padding=2,
                       fontsize=8)
    axes.set_xticks(range(len(labels)), [textwrap.fill(label, 18, break_on_hyphens=False) for label in labels], fontsize=9)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if ylim is not None:
        axes.set_ylim(*ylim)
    axes.set_title(textwrap.fill(title, 90), fontsize=11)
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    if len(series) > 1:
        axes.legend(loc="upper left")
    return figure


@dataclass(frozen=True)
class DifferencePanel:
    """One panel of :func:`difference_chart`: each label's mean difference, its interval and p-value."""

    means: Sequence[float]
    lows: Sequence[float]
    highs: Sequence[float]
    p_values: Sequence[float]
    unit: str = ""
    """What the differences are measured in, for the axis (e.g. "percentage points")."""


def difference_chart(labels: Sequence[str], panels: dict[str, DifferencePanel], *, title: str,
                     reference: str) -> "Figure":
    """Paired differences from a reference: one panel per metric, one horizontal bar per label with its
    interval as a whisker and its p-value written beside it, and a line at 0 (no difference).

    Args:
        labels: the compared conditions (rows).
        panels: metric -> its differences, in the order of ``labels`` (NaN: not compared; left blank).
        reference: the reference condition's label, for the axis.
    """
    figure = _figure((max(6.0, 4.2 * len(panels) + 2.0), 1.6 + 0.55 * len(labels)))
    axes_list = figure.subplots(1, max(1, len(panels)), squeeze=False, sharey=True)[0]
    rows = range(len(labels))
    for axes, (metric, panel) in zip(axes_list, panels.items()):
        means = [_finite(m) for m in panel.means]
        errors = [[max(0.0, _finite(m) - _finite(lo)) for m, lo in zip(panel.means, panel.lows)],
                  [max(0.0, _finite(hi) - _finite(m)) for m, hi in zip(panel.means, panel.highs)]]
        colours = ["tab:green" if m > 0 else "tab:red" for m in means]
        axes.barh(rows, means, 0.6, xerr=errors, capsize=4, color=colours, alpha=0.75, error_kw={"elinewidth": 1.2})
        for row, (m, hi, p) in enumerate(zip(panel.means, panel.highs, panel.p_values)):
            if math.isfinite(m):
                axes.annotate(f"{m:+.3g}  p={p:.2g}" if math.isfinite(p) else f"{m:+.3g}",
                              (max(_finite(hi), m, 0.0), row), xytext=(4, 0), textcoords="offset points",
                              va="center", fontsize=8)
        axes.axvline(0.0, color="black", linewidth=0.8)
        axes.set_title(metric, fontsize=10)
        axes.set_xlabel(f"difference from {textwrap.shorten(reference, 40, placeholder='…')}"
                        + (f" ({panel.unit})" if panel.unit else ""), fontsize=9)
        axes.grid(axis="x", alpha=0.3)
        axes.set_axisbelow(True)
        extent = max([abs(_finite(v)) for v in (*panel.means, *panel.lows, *panel.highs)] + [0.0])
        axes.set_xlim(-1.6 * extent if extent else -1.0, 1.6 * extent if extent else 1.0)  # 0 in the middle
    axes_list[0].set_yticks(list(rows), [textwrap.fill(label, 28, break_on_hyphens=False) for label in labels],
                            fontsize=9)
    axes_list[0].invert_yaxis()
    figure.suptitle(textwrap.fill(title, 100), fontsize=11)
    return figure


def heatmaps(panels: dict[str, Sequence[Sequence[float | None]]], row_labels: Sequence[str],
             col_labels: Sequence[str], *, title: str, xlabel: str, ylabel: str, value_label: str,
             vmax: float = 100.0) -> "Figure":
    """One annotated heatmap per panel, side by side, sharing axes labels and one colour bar.

    A ``None`` (or NaN) cell is left blank: e.g. a passage not yet learned at that point of a stream.
    """
    rows, cols = len(row_labels), len(col_labels)
    figure = _figure((1.2 + (0.75 * cols + 1.6) * len(panels), 1.6 + 0.5 * rows))
    axes_list = figure.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    image = None
    for axes, (name, matrix) in zip(axes_list, panels.items()):
        values = [[math.nan if v is None else float(v) for v in row] for row in matrix]
        image = axes.imshow(values, cmap="viridis", vmin=0.0, vmax=vmax, aspect="auto")
        for r, row in enumerate(values):
            for c, value in enumerate(row):
                if math.isfinite(value):
                    colour = "black" if value > 0.6 * vmax else "white"
                    axes.text(c, r, f"{value:.0f}", ha="center", va="center", color=colour, fontsize=8)
        axes.set_xticks(range(cols), [textwrap.shorten(label, 14, placeholder="…") for label in col_labels],
                        rotation=35, ha="right", fontsize=8)
        axes.set_xlabel(xlabel)
        if len(panels) > 1:
            axes.set_title(name, fontsize=10)
    axes_list[0].set_yticks(range(rows), [textwrap.shorten(label, 28, placeholder="…") for label in row_labels],
                            fontsize=8)
    axes_list[0].set_ylabel(ylabel)
    figure.colorbar(image, ax=list(axes_list), label=value_label, shrink=0.9)
    figure.suptitle(textwrap.fill(title, 100), fontsize=11)
    return figure


def save_png(figure: "Figure", path: str | Path) -> Path:
    """Write ``figure`` as a PNG (refusing to overwrite an existing file, like every run-folder writer)."""
    path = Path(path)
    with open(path, "xb") as f:
        figure.savefig(f, format="png", dpi=120)
    return path


def png_bytes(figure: "Figure", dpi: int = 120) -> bytes:
    """``figure`` as PNG bytes: what a notebook shows with ``IPython.display.Image`` (a figure built without
    pyplot has no inline display of its own, so a headless run would show only its repr)."""
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _figure(size: tuple[float, float]) -> "Figure":
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)  # attaches itself: savefig needs no global backend
    return figure


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0
