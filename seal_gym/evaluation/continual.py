"""SEAL's continual-learning experiment: a stream of passages, one self-edit update merged after another.

Step j writes a self-edit for passage j with the model as it is now (so a writer that shares the model, as in
SEAL, writes with every earlier update in its weights), trains a LoRA on it plus the passage exactly as the
inner loop would, and merges it into the weights (:class:`~seal_gym.adapt.persistent.PersistentUpdates`).
Then the model, with no adapter and no passage in context, answers the questions of passages 0..j. The
accuracies form the forgetting matrix ``strict[j][i]``; the diagonal is what each update taught, the columns
show what later updates took away. The weights are restored at the end, also when a step fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

from seal_gym.adapt import AdaptRequest
from seal_gym.adapt.persistent import PersistentUpdates, UpdateOutcome
from seal_gym.evaluation.charts import heatmaps
from seal_gym.self_edits import Writer
from seal_gym.evaluation.squad import Accuracy
from seal_gym.squad.grading import lenient_score
from seal_gym.squad.inner_loop import KnowledgeInnerLoop
from seal_gym.squad.passages import Passage
from seal_gym.stats import format_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class WeightUpdates(Protocol):
    """What the stream needs from its updater (:class:`PersistentUpdates`; tests pass fakes)."""

    def apply(self, request: AdaptRequest) -> UpdateOutcome: ...

    def restore(self) -> None: ...


@dataclass
class StreamStep:
    """One update of the stream."""

    passage_index: int
    title: str
    self_edit: str
    """Empty for passage-only updates."""
    num_sequences: int
    final_loss: float | None
    seconds: float


@dataclass
class RetentionLine(Accuracy):
    """Accuracy % on a passage ``later`` updates after it was learned, over the ``n`` passages that have them."""

    later: int


@dataclass
class ContinualResult:
    """The forgetting matrices of one stream. ``strict[j][i]``: accuracy on passage i after update j (i <= j)."""

    label: str
    """What each update trained on, e.g. "self-edits + passage" or "passage only"."""
    titles: list[str]
    before: list[float] = field(default_factory=list)
    """Strict accuracy on each passage before any update."""
    before_lenient: list[float] = field(default_factory=list)
    strict: list[list[float]] = field(default_factory=list)
    lenient: list[list[float]] = field(default_factory=list)
    steps: list[StreamStep] = field(default_factory=list)

    def retention(self) -> list[RetentionLine]:
        """Mean accuracy on passage i after j - i later updates, for every j - i (0: just learned)."""
        lines = []
        for later in range(len(self.strict)):
            cells = [(self.strict[i + later][i], self.lenient[i + later][i]) for i in range(len(self.strict) - later)]
            lines.append(RetentionLine(*Accuracy.over(cells), later=later))
        return lines

    def matrix(self, lenient: bool = False) -> list[list[float | None]]:
        """Accuracy % with one row before the stream, then one per update; None where a passage is not learned yet."""
        before, after = (self.before_lenient, self.lenient) if lenient else (self.before, self.strict)
        size = len(self.titles)
        return [[100 * v for v in before]] + [[100 * row[i] if i < len(row) else None for i in range(size)]
                                              for row in after]

    def csv_rows(self) -> list[dict]:
        """One row per (after update, passage) cell, the "before" row included (``after_update`` = -1)."""
        rows = [{"stream": self.label, "after_update": -1, "passage": i, "title": t, "accuracy_strict": s,
                 "accuracy_lenient": v} for i, (t, s, v) in enumerate(zip(self.titles, self.before, self.before_lenient))]
        for j, (strict_row, lenient_row) in enumerate(zip(self.strict, self.lenient)):
            rows += [{"stream": self.label, "after_update": j, "passage": i, "title": self.titles[i], "accuracy_strict": s,
                      "accuracy_lenient": v} for i, (s, v) in enumerate(zip(strict_row, lenient_row))]
        return rows


def retention_table(results: Sequence[ContinualResult]) -> str:
    """Retention of one or more streams side by side: accuracy % after k later updates (mean ± s.e.)."""
    lines = [r.retention() for r in results]
    header = ["later updates", "n", *[f"{r.label} (strict)" for r in results], *[f"{r.label} (F1>=0.5)" for r in results]]
    body = []
    for k, first in enumerate(lines[0]):
        body.append([str(k), str(first.n), *[f"{ls[k].strict:.1f} ± {ls[k].strict_se:.1f}" for ls in lines],
                     *[f"{ls[k].lenient:.1f} ± {ls[k].lenient_se:.1f}" for ls in lines]])
    return format_table(header, body)


def forgetting_chart(results: Sequence[ContinualResult], title: str, lenient: bool = False) -> "Figure":
    """The forgetting matrix of each stream as a heatmap, side by side (rows: after which update)."""
    first = results[0]
    rows = ["before the stream"] + [f"after {j + 1}: {t}" for j, t in enumerate(first.titles)]
    return heatmaps({r.label: r.matrix(lenient) for r in results}, rows, first.titles, title=title,
                    xlabel="passage asked about", ylabel="model after update",
                    value_label=f"accuracy % ({'F1 >= 0.5' if lenient else 'strict'})")


def continual_stream(loop: KnowledgeInnerLoop, passages: Sequence[Passage], writer: Writer | None,
                     seed: int = 0, label: str | None = None, first_index: int = 0,
                     updates: WeightUpdates | None = None,
                     on_step: Callable[[ContinualResult], None] | None = None) -> ContinualResult:
    """Run the stream over ``passages`` in order and return its forgetting matrices.

    Args:
        loop: the inner loop: its model is updated (and restored at the end), its training settings and
            grader are used, and its answers (cached per weights version) measure the model.
        writer: writes each passage's self-edit from its prompt (``policy.act``); ``None`` trains on the
            passage only.
        seed: inner-loop seed of every update.
        updates: the updater (default: :class:`PersistentUpdates` on the loop's model).
        on_step: called with the result so far after each update (progress, logging).
    """
    if not passages:
        raise ValueError("a continual stream needs at least one passage")
    updates = updates if updates is not None else PersistentUpdates(loop.bundle.model, loop.bundle.tokenizer)
    result = ContinualResult(label or ("self-edits + passage" if writer else "passage only"), [p.title for p in passages])
    try:
        for p in passages:
            strict, lenient = _measure(loop, p)
            result.before.append(strict)
            result.before_lenient.append(lenient)
        for j, passage in enumerate(passages):
            self_edit = writer([loop.style.render(passage.title, passage.context)])[0] if writer else ""
            request = loop.request(self_edit, passage, seed, ask=False)
            outcome = updates.apply(request)
            result.steps.append(StreamStep(first_index + j, passage.title, self_edit, len(request.sequences),
                                           outcome.final_loss, outcome.seconds))
            measured = [_measure(loop, p) for p in passages[: j + 1]]
            result.strict.append([s for s, _ in measured])
            result.lenient.append([v for _, v in measured])
            if on_step:
                on_step(result)
    finally:
        updates.restore()
    return result


def _measure(loop: KnowledgeInnerLoop, passage: Passage) -> tuple[float, float]:
    """Strict and lenient accuracy of the model as it is now (no adapter, no passage in context)."""
    answers, strict, _ = loop.baseline(passage)
    return strict, lenient_score(answers, passage)
