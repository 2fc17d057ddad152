"""The scheduled update of a knowledge base, with the forgetting guard.

One call of :func:`update` (``seal-gym memory update``, e.g. from cron):

1. takes the durable documents no update has taken up yet (none: nothing to do, nothing written);
2. writes a self-edit for each (the writer: the model itself or a trained policy) and, for a document without
   questions, a few questions about it (the model, greedy);
3. trains one LoRA on the self-edits and the documents, on top of the current weights (base + accepted updates);
4. the forgetting guard: answers the retention questions of every earlier accepted update, and the new
   documents' questions, before and after; keeps the update only if retention fell by at most ``margin``,
   else rolls it back. Either way the attempt goes into the update log with its scores, and its documents
   count as taken up (they stay searchable);
5. commits the new state in one atomic step (see :mod:`seal_gym.memory.store`).

It holds the knowledge base's update lock throughout, so a second update at the same time refuses (or waits);
documents added while it runs wait for the next one.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Literal, Sequence

from seal_gym.adapt import AdaptRequest, LoraSpec, Query, TrainSequence, TrainSpec
from seal_gym.self_edits import Writer
from seal_gym.memory.answering import question_text
from seal_gym.memory.documents import Document, Question
from seal_gym.memory.questions import write_questions
from seal_gym.memory.store import KnowledgeBase, UpdateRecord, now
from seal_gym.memory.weights import WeightEditor
from seal_gym.squad.grading import F1Grader, GradeItem, Grader, make_grader
from seal_gym.squad.inner_loop import training_texts
from seal_gym.squad.prompts import get_prompt_style

@dataclass(frozen=True)
class UpdateConfig:
    """How an update writes, trains and decides."""

    margin: float = 0.1
    """The forgetting guard: the most retention accuracy (0..1) may fall for the update to be kept."""
    prompt_style: str = "implications"
    """How self-edits are asked for and cut into training items (a registered prompt style)."""
    include_passage: bool = True
    """Train on each document itself too, as SEAL does."""
    questions_per_document: int = 3
    """Questions the model writes about a document that came without any (0: none)."""
    max_documents: int | None = None
    """Documents taken up per update, oldest first (None: every waiting one)."""
    max_answer_tokens: int = 64
    """Greedy answer length limit of the guard's questions."""
    seed: int = 0
    """Seeds the adapter's initialisation and data order (and, on the command line, self-edit sampling)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.margin <= 1.0:
            raise ValueError(f"margin must be in [0, 1] (an accuracy drop), got {self.margin}")
        if self.max_documents is not None and self.max_documents < 1:
            raise ValueError(f"max_documents must be >= 1 or None, got {self.max_documents}")
        get_prompt_style(self.prompt_style)


Status = Literal["nothing to do", "accepted", "rolled back"]
COMMIT_WAIT_SECONDS = 120.0
"""How long a finished update waits for an ``add`` in progress to commit before it commits itself."""


@dataclass
class UpdateReport:
    """What one update did (also its entry in the update log)."""

    status: Status
    update_id: str | None = None
    documents: list[str] = field(default_factory=list)
    """Ids of the documents it took up."""
    retention_before: float | None = None
    """Accuracy on earlier updates' questions before it (None: there were none)."""
    retention_after: float | None = None
    new_before: float | None = None
    """Accuracy on the new documents' questions before it (None: they had none)."""
    new_after: float | None = None
    num_retention_questions: int = 0
    num_new_questions: int = 0
    reason: str = ""
    self_edits: list[str] = field(default_factory=list)
    final_loss: float | None = None
    num_sequences: int = 0
    """Training sequences of the adapter (self-edit items and documents)."""
    seconds: float = 0.0
    phase_seconds: dict[str, float] = field(default_factory=dict)
    """Seconds of each phase: writing self-edits, writing questions, answering before, training + answering after."""
    time: str = ""

    def line(self) -> str:
        """One line for a log or a terminal."""
        if self.status == "nothing to do":
            return "nothing to do: no durable documents wait for an update"
        pct = lambda v: "n/a" if v is None else f"{100 * v:.0f}%"  # noqa: E731
        phases = ", ".join(f"{name.replace('_', ' ')} {seconds:.0f} s" for name, seconds in self.phase_seconds.items())
        return (f"update {self.update_id} {self.status}: {len(self.documents)} documents; retention "
                f"{pct(self.retention_before)} -> {pct(self.retention_after)} ({self.num_retention_questions} questions); "
                f"new documents {pct(self.new_before)} -> {pct(self.new_after)} ({self.num_new_questions} questions); "
                f"{self.num_sequences} training sequences; {self.seconds:.1f} s ({phases}); {self.reason}")


def update(kb: KnowledgeBase, editor: WeightEditor, writer: Writer, config: UpdateConfig | None = None,
           train: TrainSpec | None = None, lora: LoraSpec | None = None, grader: str | Grader = "contains",
           wait_seconds: float = 0.0, progress: Callable[[str], None] | None = None) -> UpdateReport:
    """Run one scheduled update of ``kb`` (see the module docstring) and return what it did; ``progress``
    receives a line as each phase starts (documents, self-edits, questions, answers before, training, guard),
    with the time so far and an estimate of the whole from the previous update's pace.

    Raises:
        KnowledgeBaseBusy: another process holds the lock (after ``wait_seconds``).
        KnowledgeBaseError: the knowledge base is damaged.
    """
    config, train, lora = config or UpdateConfig(), train or TrainSpec(), lora or LoraSpec()
    grade = make_grader(grader)
    with kb.lock(wait_seconds, "update"):
        state = kb.current()
        pending = state.pending()[: config.max_documents]
        if not pending:
            return UpdateReport("nothing to do")  # (`memory update` then removes a killed update's adapter file)
        start = time.perf_counter()
        update_id = f"u{len(state.log) + 1:04d}"
        tell = _Progress(progress, start, len(pending), state.log[-1] if state.log else None)
        tell(f"update {update_id}: {len(pending)} documents ({len(state.pending()) - len(pending)} more wait)")
        editor.load(kb.adapters(state))
        style = get_prompt_style(config.prompt_style)
        laps = _Laps()
        tell("writing self-edits")
        self_edits = writer([style.render(d.title, d.text) for d in pending])
        if len(self_edits) != len(pending):
            raise ValueError(f"the writer returned {len(self_edits)} self-edits for {len(pending)} documents")
        laps.lap("self_edits")
        tell("writing questions")
        written = write_questions(editor, [d for d in pending if not d.questions], config.questions_per_document)
        laps.lap("questions")
        own = iter(written)
        new_questions = [q for d in pending for q in (d.questions or next(own))]
        retention = [q for u in state.updates for q in u.questions]
        probes = retention + new_questions
        queries = tuple(Query(editor.prompt(question_text(q)), config.max_answer_tokens) for q in probes)
        tell(f"answering {len(queries)} questions before training")
        before = editor.answer(queries)
        laps.lap("answers_before")
        sequences = _sequences(pending, self_edits, style, config.include_passage)
        tell(f"training on {len(sequences)} sequences, then answering again (the guard)")
        trial = editor.trial(AdaptRequest(sequences, queries, replace(train, seed=config.seed), lora))
        laps.lap("train_and_answers_after")
        scores_before, scores_after = _grades(grade, probes, before), _grades(grade, probes, trial.answers)
        report = UpdateReport(
            "accepted", update_id, [d.id for d in pending],
            _mean(scores_before[: len(retention)]), _mean(scores_after[: len(retention)]),
            _mean(scores_before[len(retention):]), _mean(scores_after[len(retention):]),
            len(retention), len(new_questions), self_edits=list(self_edits),
            final_loss=trial.losses[-1] if trial.losses else None, num_sequences=len(sequences),
            phase_seconds=laps.seconds, time=now())
        report.status, report.reason = _decide(report, config.margin)
        record = None
        if report.status == "accepted":
            adapter = kb.new_adapter_name(update_id)
            editor.save(trial, kb.path / "adapters" / adapter)
            kb.pause("adapter-written")
            record = UpdateRecord(update_id, adapter, tuple(report.documents), tuple(new_questions), trial.sequences,
                                  report.time)
        report.seconds = time.perf_counter() - start
        with kb.lock(COMMIT_WAIT_SECONDS, "state"):
            latest = kb.current()  # documents may have been added meanwhile; updates and log are ours alone
            taken = set(report.documents)
            documents = tuple(replace(d, update=update_id) if d.id in taken else d for d in latest.documents)
            kb.commit(replace(latest, documents=documents, updates=latest.updates + ((record,) if record else ()),
                              log=latest.log + (asdict(report),)), collect_adapters=True)
        if report.status == "accepted":
            editor.accept(trial, update_id)
        return report


class _Progress:
    """Progress lines of one update: the phase, the seconds so far and, once one update has run, an ETA."""

    def __init__(self, sink: Callable[[str], None] | None, start: float, documents: int, last: dict | None) -> None:
        self.sink, self.start = sink, start
        seconds, done = (last or {}).get("seconds"), len((last or {}).get("documents") or ())
        self.expected = seconds / done * documents if seconds and done else None

    def __call__(self, phase: str) -> None:
        if self.sink is None:
            return
        elapsed = time.perf_counter() - self.start
        eta = (f", about {max(0.0, self.expected - elapsed):.0f} s left at the last update's pace"
               if self.expected is not None else "")
        self.sink(f"  {phase} ({elapsed:.0f} s so far{eta})")


class _Laps:
    """Seconds between successive :meth:`lap` calls, by name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now_ = time.perf_counter()
        self.seconds[name], self._last = now_ - self._last, now_


def _sequences(documents: Sequence[Document], self_edits: Sequence[str], style, include_passage: bool
               ) -> tuple[TrainSequence, ...]:
    """Each document's self-edit items prefixed with its title, then the document itself (as the inner loop)."""
    return tuple(TrainSequence(t) for document, self_edit in zip(documents, self_edits)
                 for t in training_texts(document.title, document.text, self_edit, style, include_passage))


def _grades(grader: Grader, questions: Sequence[Question], answers: Sequence[str]) -> list[bool]:
    """Whether each answer is right: a document's own question by ``grader``, a model-written one (whose gold
    answer may be a whole sentence) by best-span F1 >= 0.5."""
    items = [GradeItem(q.question, q.answer, a) for q, a in zip(questions, answers)]
    correct: list[bool] = [False] * len(items)
    for which, by in ((False, grader), (True, F1Grader())):  # each question graded once, by its own grader
        positions = [i for i, q in enumerate(questions) if q.written == which]
        for i, verdict in zip(positions, by.grade([items[i] for i in positions]) if positions else []):
            correct[i] = verdict.correct
    return correct


def _mean(values: Sequence[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def _decide(report: UpdateReport, margin: float) -> tuple[Status, str]:
    if report.retention_before is None:
        return "accepted", "kept: no earlier update to protect"
    drop = report.retention_before - (report.retention_after or 0.0)
    if drop <= margin + 1e-9:
        return "accepted", f"kept: retention fell by {100 * drop:.0f} points, at most the margin {100 * margin:.0f}"
    return "rolled back", f"rolled back: retention fell by {100 * drop:.0f} points, more than the margin {100 * margin:.0f}"
