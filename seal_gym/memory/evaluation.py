"""The measured comparison of memory modes on a stream of windows of passages (``seal-gym eval memory``).

A fresh knowledge base receives W windows of P passages each. After each window's passages are added, one
scheduled update runs (self-edits, one adapter, the forgetting guard); then every question of every passage
seen so far is asked in each mode (see :mod:`seal_gym.memory.answering`): no memory, retrieval only, weights
only, hybrid. Reported per window: accuracy on all questions seen so far, accuracy on the first window's
questions (retention), and the update's seconds and outcome.

By default passages go into the knowledge base without their questions: the guard then decides on questions
the model wrote itself, and the evaluation's questions stay held out (``give_questions=True`` hands them in,
as a deployment with known questions would).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from seal_gym.adapt import LoraSpec, TrainSpec
from seal_gym.caching import BoundedCache
from seal_gym.memory.answering import MODES, ask, question_text
from seal_gym.memory.documents import NewDocument, Question
from seal_gym.memory.store import KnowledgeBase, Settings
from seal_gym.self_edits import Writer
from seal_gym.memory.updater import UpdateConfig, UpdateReport, update
from seal_gym.memory.weights import WeightEditor
from seal_gym.squad.grading import GradeItem, Grader, lenient_accuracy, make_grader
from seal_gym.squad.passages import Passage
from seal_gym.stats import format_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MODE_LABELS = {"none": "no memory", "retrieval": "retrieval only", "weights": "weights only", "hybrid": "hybrid"}


@dataclass(frozen=True)
class MemoryEvalConfig:
    """The stream and how questions are asked."""

    windows: int = 4
    """Windows of passages (one scheduled update after each)."""
    per_window: int = 6
    """Passages per window."""
    top_k: int = 1
    """Documents retrieved into the prompt (retrieval and hybrid)."""
    max_answer_tokens: int = 64
    """Greedy answer length limit."""
    give_questions: bool = False
    """Hand each passage's questions to the knowledge base (the guard then scores on them)."""

    def __post_init__(self) -> None:
        if self.windows < 1 or self.per_window < 1 or self.top_k < 1:
            raise ValueError("windows, per_window and top_k must be >= 1")


@dataclass
class WindowResult:
    """The stream after one window and its update."""

    window: int
    """1-based."""
    passages: int
    """Passages seen so far."""
    questions: int
    """Questions seen so far."""
    accuracy: dict[str, float]
    """Mode -> accuracy % on every question seen so far."""
    first_window: dict[str, float]
    """Mode -> accuracy % on the first window's questions."""
    update: UpdateReport
    lenient: dict[str, float] = field(default_factory=dict)
    """Mode -> accuracy % on every question seen so far under the lenient grader (best-span F1 >= 0.5)."""


@dataclass
class MemoryEvaluation:
    """Every window's result (see :func:`evaluate_memory`)."""

    model: str
    modes: list[str]
    windows: list[WindowResult] = field(default_factory=list)

    def table(self) -> str:
        header = ["window", "passages", "questions", *[f"{MODE_LABELS[m]} %" for m in self.modes],
                  *[f"window 1: {MODE_LABELS[m]} %" for m in self.modes], "update", "update s"]
        rows = [[str(w.window), str(w.passages), str(w.questions), *[f"{w.accuracy[m]:.1f}" for m in self.modes],
                 *[f"{w.first_window[m]:.1f}" for m in self.modes], w.update.status, f"{w.update.seconds:.1f}"]
                for w in self.windows]
        lenient = [[str(w.window), *[f"{w.lenient[m]:.1f}" for m in self.modes]] for w in self.windows]
        return (format_table(header, rows) + "\n\nlenient grader (best-span F1 >= 0.5), all questions seen so far:\n"
                + format_table(["window", *[f"{MODE_LABELS[m]} %" for m in self.modes]], lenient))

    def csv_rows(self) -> list[dict]:
        return [{"window": w.window, "passages": w.passages, "questions": w.questions, "mode": m,
                 "accuracy": w.accuracy[m], "accuracy_lenient": w.lenient[m], "first_window_accuracy": w.first_window[m],
                 "update": w.update.status,
                 "retention_before": w.update.retention_before, "retention_after": w.update.retention_after,
                 "update_seconds": w.update.seconds} for w in self.windows for m in self.modes]

    def chart(self, title: str) -> "Figure":
        """Accuracy over windows, one line per mode: on everything seen so far (left), on window 1 (right)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(11.0, 4.4), layout="constrained")  # no pyplot: nothing global changes
        FigureCanvasAgg(figure)
        left, right = figure.subplots(1, 2, sharey=True)
        xs = [w.window for w in self.windows]
        styles = zip("os^D", ("-", "--", "-.", ":"))  # equal lines stay told apart
        for mode, (marker, line) in zip(self.modes, styles):
            style = {"marker": marker, "linestyle": line, "label": MODE_LABELS[mode], "markerfacecolor": "none"}
            left.plot(xs, [w.accuracy[mode] for w in self.windows], **style)
            right.plot(xs, [w.first_window[mode] for w in self.windows], **style)
        for axes, name in ((left, "all questions seen so far"), (right, "first window's questions (retention)")):
            axes.set_title(name, fontsize=10)
            axes.set_xlabel("after window (one scheduled update each)")
            axes.set_xticks(xs, [f"{w.window}" + ("\n(rolled back)" if w.update.status == "rolled back" else "")
                                 for w in self.windows])
            axes.set_ylim(-2, 102)
            axes.grid(alpha=0.3)
        left.set_ylabel("accuracy % (strict)")
        left.legend(loc="best", fontsize=8)
        figure.suptitle(title, fontsize=11)
        return figure


def evaluate_memory(passages: Sequence[Passage], editor: WeightEditor, writer: Writer, kb_dir: str | Path,
                    config: MemoryEvalConfig | None = None, update_config: UpdateConfig | None = None,
                    train: TrainSpec | None = None, lora: LoraSpec | None = None, grader: str | Grader = "contains",
                    model_name: str | None = None,
                    on_window: Callable[[MemoryEvaluation], None] | None = None) -> MemoryEvaluation:
    """Run the stream (see the module docstring) on a new knowledge base in ``kb_dir``.

    Args:
        passages: at least ``windows * per_window`` of them; the first ones are used, in order.
        editor: the model's weights (:class:`~seal_gym.memory.weights.LoraEditor`; tests pass an
            :class:`~seal_gym.memory.weights.EngineEditor`).
        writer: writes the self-edits of each update.
        on_window: called with the result so far after each window (progress).
    """
    config = config or MemoryEvalConfig()
    needed = config.windows * config.per_window
    if len(passages) < needed:
        raise ValueError(f"{config.windows} windows of {config.per_window} passages need {needed} passages, "
                         f"got {len(passages)}")
    grade = make_grader(grader)
    kb = KnowledgeBase.create(kb_dir, Settings(model_name))
    result = MemoryEvaluation(model_name or "", list(MODES))
    asker = CachedAnswers(editor)
    first = sum(len(p.questions) for p in passages[: config.per_window])
    for w in range(config.windows):
        window = passages[w * config.per_window : (w + 1) * config.per_window]
        with kb.lock():
            kb.add([_document(p, config.give_questions) for p in window])
        report = update(kb, editor, writer, update_config, train, lora, grader)
        seen = [(p, qa) for p in passages[: (w + 1) * config.per_window] for qa in p.questions]
        texts = [question_text(Question(qa.question, qa.answer, p.title)) for p, qa in seen]
        state = kb.current()
        accuracy, first_window, lenient = {}, {}, {}
        for mode in MODES:
            answers = [a.answer for a in ask(kb, asker, texts, mode, config.top_k, config.max_answer_tokens, state)]
            verdicts = grade.grade([GradeItem(qa.question, qa.answer, a) for (_, qa), a in zip(seen, answers)])
            correct = [v.correct for v in verdicts]
            accuracy[mode] = 100 * sum(correct) / max(1, len(correct))
            first_window[mode] = 100 * sum(correct[:first]) / max(1, first)
            lenient[mode] = 100 * lenient_accuracy(answers, [qa.answer for _, qa in seen])
        result.windows.append(WindowResult(w + 1, (w + 1) * config.per_window, len(texts), accuracy, first_window, report,
                                           lenient))
        if on_window:
            on_window(result)
    return result


class CachedAnswers:
    """A weight editor's answers, remembered per (weights, prompt): a question asked again on the same weights
    with the same documents in its prompt (every "none" question, most "retrieval" ones, all of them after a
    rolled-back update) is not answered again. Only :meth:`prompt`, :meth:`load` and :meth:`answer` are used.

    At most ``entries`` answers are kept (least recently used dropped first): a window asks every question
    seen so far in three modes, so the default holds several windows of a long stream."""

    def __init__(self, editor: WeightEditor, entries: int = 8192) -> None:
        self.editor = editor
        self._answers = BoundedCache(entries)

    def prompt(self, text: str) -> str:
        return self.editor.prompt(text)

    def load(self, adapters) -> None:
        self.editor.load(adapters)
        self._weights = tuple(a.id for a in adapters)

    def answer(self, queries, weights: bool = True) -> list[str]:
        keys = [(self._weights if weights else (), q.prompt, q.max_new_tokens) for q in queries]
        answers = {k: self._answers.get(k) for k in keys}
        missing = {k: q for k, q in zip(keys, queries) if answers[k] is None}
        answers.update(zip(missing, self.editor.answer(list(missing.values()), weights)))
        for key, text in answers.items():
            self._answers[key] = text
        return [answers[k] for k in keys]


def _document(passage: Passage, give_questions: bool) -> NewDocument:
    questions = tuple(Question(qa.question, qa.answer, passage.title) for qa in passage.questions) if give_questions else ()
    return NewDocument(passage.title, passage.context, questions, "durable", "eval memory")
