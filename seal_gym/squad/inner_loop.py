"""The knowledge-incorporation inner loop: self-edit -> LoRA update -> answers without the passage -> grades.

:class:`KnowledgeInnerLoop` takes a *list* of :class:`KnowledgeItem` and returns one
:class:`KnowledgeResult` each. It turns items into :class:`~seal_gym.adapt.AdaptRequest` objects for the
inner-loop engine (the only code that trains adapters), so swapping the sequential engine for the batched
one changes nothing here. The model may carry a policy adapter that an agent trains: adapters are then
trained on top of the current policy, and the cached baseline follows the weights' version.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Literal, Sequence

from seal_gym.adapt import AdaptRequest, InnerLoopEngine, LoraSpec, Query, TrainSequence, TrainSpec, weights_version
from seal_gym.caching import BoundedCache
from seal_gym.domain import model_and_engine
from seal_gym.squad.grading import GradeItem, Grader, Verdict, best_span_f1, lenient_accuracy, make_grader
from seal_gym.squad.metrics import answer_metrics
from seal_gym.models import ModelBundle
from seal_gym.squad.passages import Passage
from seal_gym.squad.prompts import PromptStyle, get_prompt_style


CACHE_ENTRIES = 1024
"""Entries of each of the inner loop's caches (base-model answers, passage references)."""

@dataclass(frozen=True)
class KnowledgeItem:
    """One self-edit to apply to one passage."""

    self_edit: str
    passage: Passage
    seed: int = 0
    """Inner-loop seed (LoRA initialisation and data order)."""


@dataclass
class QuestionResult:
    question: str
    gold: str
    answer: str
    correct: bool
    f1: float
    """Best-span token F1 of the answer's first line against the gold answer (the lenient view)."""
    baseline_answer: str
    baseline_correct: bool
    grader_error: str | None = None
    logprob: float | None = None
    """Mean per-token log-probability of the gold answer after the update (``score_logprob`` only)."""


@dataclass
class KnowledgeResult:
    """Outcome of one self-edit."""

    baseline_accuracy: float
    """Accuracy of the base model, no adapter, no passage."""
    adapter_accuracy: float
    """Accuracy after training the adapter on the self-edit (+ passage), no passage in context."""
    questions: list[QuestionResult]
    final_loss: float | None
    """Loss of the last optimizer step (``None`` if nothing was trained)."""
    num_sequences: int
    num_train_tokens: int
    num_optimizer_steps: int
    train_seconds: float
    answer_seconds: float
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)
    """The adapted model's answers measured beyond the grader (:func:`~seal_gym.squad.metrics.answer_metrics`:
    ``exact``, ``f1``, ``words``, ``recital``, ``credited_recital`` and, with ``score_logprob``, ``logprob``)."""
    passage_metrics: dict[str, float] = field(default_factory=dict)
    """The same for the adapter trained on the passage alone with the same inner seed, plus its
    ``accuracy`` (``reference="passage"`` only): what the self-edit is compared with."""

    @property
    def gain(self) -> float:
        return self.adapter_accuracy - self.baseline_accuracy

    def lenient_accuracy(self, threshold: float = 0.5) -> float:
        """Adapter accuracy under the lenient grader (best-span token F1 >= ``threshold``)."""
        return sum(q.f1 >= threshold for q in self.questions) / max(1, len(self.questions))

    def lenient_baseline_accuracy(self, threshold: float = 0.5) -> float:
        """Base-model accuracy under the lenient grader."""
        return lenient_accuracy([q.baseline_answer for q in self.questions], [q.gold for q in self.questions],
                                threshold)


AnswerStyle = Literal["free", "short"]
SHORT_ANSWER = "Answer with just the answer, in a few words."
"""Appended to each question with ``answer_style="short"``."""


@dataclass
class KnowledgeConfig:
    """Inner-loop settings. Defaults follow SEAL (rank 32, alpha 64, 10 epochs, lr 1e-3, batch 1)."""

    lora: LoraSpec = field(default_factory=LoraSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    max_answer_tokens: int = 64
    """Greedy answer length limit; 0 generates no answers (with ``score_logprob``, the cheapest measure)."""
    answer_style: AnswerStyle = "free"
    """"free": the question as SEAL asks it; "short": followed by :data:`SHORT_ANSWER`, what the ``exact``
    grader and the ``f1`` metric score (a recital cannot pass them)."""
    score_logprob: bool = False
    """Also score each gold answer's mean per-token log-probability after the update (teacher-forced)."""
    include_passage: bool = True
    """Append the passage itself as one more training sequence (as SEAL does)."""
    prompt_style: str | PromptStyle = "implications"
    """How a self-edit is split into training items."""


def training_texts(title: str, text: str, self_edit: str, style: PromptStyle, include_passage: bool) -> list[str]:
    """The training texts of one self-edit about one document: its items prefixed with the title, then (with
    ``include_passage``) the document itself. How SEAL builds them, for the inner loop and for memory updates.

    >>> from seal_gym.squad.prompts import get_prompt_style
    >>> training_texts("Varnel", "The tower is grey.", "- It is grey.", get_prompt_style("implications"), True)
    ['Varnel\\nIt is grey.', 'Varnel\\nThe tower is grey.']
    """
    texts = [f"{title}\n{item}" for item in style.split_items(self_edit)]
    return texts + [f"{title}\n{text}"] if include_passage else texts


def question_text(title: str, question: str, answer_style: AnswerStyle = "free") -> str:
    """A question as asked without its document: prefixed with its topic (when there is one), and with
    ``answer_style="short"`` followed by :data:`SHORT_ANSWER`.

    >>> question_text("Varnel", "Who built it?")
    'Topic: Varnel\\nWho built it?'
    """
    suffix = f"\n{SHORT_ANSWER}" if answer_style == "short" else ""
    return f"Topic: {title}\n{question}{suffix}" if title else f"{question}{suffix}"


def question_prompt(bundle: ModelBundle, passage: Passage, question: str, answer_style: AnswerStyle = "free") -> str:
    """The question as asked after training: no passage, prefixed with its topic, in the chat template."""
    return bundle.chat_prompt(question_text(passage.title, question, answer_style))


def in_context_prompt(bundle: ModelBundle, passage: Passage, question: str) -> str:
    """The question with the passage in context: the reference the paper compares against."""
    return bundle.chat_prompt(f"{passage.title}\n{passage.context}\n\nTopic: {passage.title}\n{question}")


class KnowledgeInnerLoop:
    """Applies self-edits to passages and measures what the model learned.

    Args:
        model: anything :func:`seal_gym.models.load_model` accepts (a shared ModelBundle included).
        engine: ``"auto"``, ``"sequential"``, ``"batched"`` or an engine object (see
            :func:`seal_gym.adapt.make_engine`).
        grader: a grader name or object (see :func:`seal_gym.squad.grading.make_grader`).
        config: inner-loop settings.
    """

    def __init__(self, model=None, engine: str | InnerLoopEngine = "auto", grader: str | Grader = "contains",
                 config: KnowledgeConfig | None = None):
        self.bundle, self.engine = model_and_engine(model, engine)
        self.config = config or KnowledgeConfig()
        if self.config.answer_style not in ("free", "short"):
            raise ValueError(f"answer_style must be 'free' or 'short', got {self.config.answer_style!r}")
        if self.config.max_answer_tokens < 0 or (self.config.max_answer_tokens == 0 and not self.config.score_logprob):
            raise ValueError("max_answer_tokens must be >= 1 (0 is allowed only with score_logprob=True: then the "
                             f"answers are not generated), got {self.config.max_answer_tokens}")
        self.style = get_prompt_style(self.config.prompt_style)

        self.grader = make_grader(grader)
        # Bounded: keys carry the weights version, which every policy update changes, so old entries are never
        # asked again and the least recently used go first (a round asks a few passages and seeds).
        self._baseline_cache = BoundedCache(CACHE_ENTRIES)
        self._reference_cache = BoundedCache(CACHE_ENTRIES)

    def training_sequences(self, self_edit: str, passage: Passage) -> tuple[TrainSequence, ...]:
        """Self-edit items prefixed with the title, then the passage itself (truncation is the engine's)."""
        texts = training_texts(passage.title, passage.context, self_edit, self.style, self.config.include_passage)
        return tuple(TrainSequence(text) for text in texts)

    def queries(self, passage: Passage) -> tuple[Query, ...]:
        """The passage's questions as asked after training (see :func:`question_prompt`); with
        ``score_logprob`` each carries its gold answer as the target to score."""
        return tuple(
            Query(question_prompt(self.bundle, passage, qa.question, self.config.answer_style),
                  self.config.max_answer_tokens, target=qa.answer if self.config.score_logprob else None)
            for qa in passage.questions
        )

    def request(self, self_edit: str, passage: Passage, seed: int, ask: bool = True) -> AdaptRequest:
        """The engine request that trains on ``self_edit`` (+ the passage) and, with ``ask``, asks the passage's
        questions. Every SQuAD request (env, ``eval squad``, ``eval continual``) is built here."""
        return self.pooled_request([(self_edit, passage)], seed, ask)

    def pooled_request(self, edits: Sequence[tuple[str, Passage]], seed: int, ask: bool = True) -> AdaptRequest:
        """One adapter for several passages (the paper's CPT setting): every ``(self_edit, passage)``'s training
        sequences, in order, and (with ``ask``) all their questions, in the same order."""
        return AdaptRequest(sequences=tuple(s for edit, p in edits for s in self.training_sequences(edit, p)),
                            queries=tuple(q for _, p in edits for q in self.queries(p)) if ask else (),
                            train=replace(self.config.train, seed=seed), lora=self.config.lora)

    def _reference_key(self, passage: Passage, seed: int) -> tuple:
        return (weights_version(self.bundle.model), passage.title, passage.context, passage.questions, seed)

    def passage_reference(self, passages_and_seeds: Sequence[tuple[Passage, int]]) -> list[dict[str, float]]:
        """Metrics (and ``accuracy``) of the adapter trained on the passage alone, per (passage, inner seed).

        What a relative reward subtracts. Trained once per passage, seed and weights version (the missing
        ones in one engine call), then cached, like :meth:`baseline`.
        """
        missing = list({self._reference_key(p, s): (p, s) for p, s in passages_and_seeds
                        if self._reference_key(p, s) not in self._reference_cache}.items())
        outcomes = self.engine.adapt([self.request("", p, s) for _, (p, s) in missing]) if missing else []
        for (key, (passage, _)), outcome in zip(missing, outcomes):
            accuracy, verdicts = self.grade_answers(passage, outcome.answers)
            self._reference_cache[key] = {"accuracy": accuracy, **self.measure(passage, outcome.answers, verdicts,
                                                                                outcome.target_logprobs)}
        return [self._reference_cache[self._reference_key(p, s)] for p, s in passages_and_seeds]

    def measure(self, passage: Passage, answers: list[str], verdicts: list[Verdict],
                logprobs: list[float | None] | None = None) -> dict[str, float]:
        """The answer metrics of one adapter's (or the base model's) answers to ``passage``'s questions."""
        generated = self.config.max_answer_tokens > 0
        return answer_metrics(passage, answers if generated else None, logprobs or None,
                              credited=verdicts if generated else None)

    def baseline(self, passage: Passage) -> tuple[list[str], float, list[Verdict]]:
        """Base-model answers without the passage, their accuracy and verdicts.

        Answered and graded once per passage and weights version, then cached: a judge grader is not asked
        again every step, and an update of the model's weights (e.g. a policy step) makes a new entry.
        """
        key = (weights_version(self.bundle.model), passage.title, passage.context, passage.questions)
        if key not in self._baseline_cache:
            answers = self.engine.answer(self.queries(passage))
            self._baseline_cache[key] = (answers, *self.grade_answers(passage, answers))
        return self._baseline_cache[key]

    def in_context_answers(self, passage: Passage) -> list[str]:
        """Base-model answers with the passage in context (no training): the paper's reference condition."""
        queries = [Query(in_context_prompt(self.bundle, passage, qa.question), self.config.max_answer_tokens)
                   for qa in passage.questions]
        return self.engine.answer(queries)

    def grade_answers(self, passage: Passage, answers: list[str]) -> tuple[float, list[Verdict]]:
        """Accuracy of ``answers`` (one per question of ``passage``) and the grader's verdicts."""
        items = [GradeItem(qa.question, qa.answer, a) for qa, a in zip(passage.questions, answers)]
        verdicts = self.grader.grade(items)
        return sum(v.correct for v in verdicts) / max(1, len(verdicts)), verdicts

    def run(self, items: Sequence[KnowledgeItem], reference: Literal["passage"] | None = None) -> list[KnowledgeResult]:
        """Apply every self-edit (one engine call for the whole list) and grade the answers.

        Args:
            reference: ``"passage"`` also measures the adapter trained on the passage alone under each item's
                inner seed (cached; see :meth:`passage_reference`) into ``KnowledgeResult.passage_metrics``.
        """
        start = time.perf_counter()
        requests = [self.request(item.self_edit, item.passage, item.seed) for item in items]
        baselines = [self.baseline(item.passage) for item in items]
        references = (self.passage_reference([(item.passage, item.seed) for item in items])
                      if reference == "passage" else [{} for _ in items])
        outcomes = self.engine.adapt(requests)
        results = []
        for item, request, outcome, (base_answers, base_accuracy, base_verdicts), reference_metrics in zip(
                items, requests, outcomes, baselines, references):
            passage = item.passage
            accuracy, verdicts = self.grade_answers(passage, outcome.answers)
            logprobs = outcome.target_logprobs or [None] * len(passage.questions)
            questions = [
                QuestionResult(qa.question, qa.answer, answer, v.correct, best_span_f1(answer, qa.answer),
                               base_answer, bv.correct, v.error, logprob)
                for qa, answer, v, base_answer, bv, logprob in zip(passage.questions, outcome.answers, verdicts,
                                                                   base_answers, base_verdicts, logprobs)
            ]
            results.append(
                KnowledgeResult(
                    baseline_accuracy=base_accuracy,
                    adapter_accuracy=accuracy,
                    questions=questions,
                    final_loss=outcome.final_loss,
                    num_sequences=len(request.sequences),
                    num_train_tokens=outcome.num_train_tokens,
                    num_optimizer_steps=outcome.num_optimizer_steps,
                    train_seconds=outcome.train_seconds,
                    answer_seconds=outcome.answer_seconds,
                    seconds=0.0,
                    metrics=self.measure(passage, outcome.answers, verdicts, outcome.target_logprobs),
                    passage_metrics=reference_metrics,
                )
            )
        share = (time.perf_counter() - start) / max(1, len(results))  # per item, grading included
        for result in results:
            result.seconds = share
        return results
