"""Grading answers against gold answers, with no API key needed by default.

Graders take a batch of :class:`GradeItem` and return one :class:`Verdict` each. A grader that fails on an
item (timeout, unparseable reply, exception) marks it incorrect and records why; it never raises.

- :class:`ContainsGrader` (``"contains"``, the default): the normalised gold answer appears in the
  normalised first line of the answer. It credits a recital: a model that recites a stretch of the passage
  that happens to hold the gold span is marked right (see :func:`copies_passage`).
- :class:`F1Grader` (``"f1"``, lenient): token-level F1 of the best span of the first line against the gold
  answer >= a threshold; blind to recitals in the same way.
- :class:`ExactGrader` (``"exact"``, strict and recital-proof): SQuAD's exact match of the *concise* answer
  (:func:`concise_answer`: the first sentence, answer boilerplate removed); :func:`answer_f1` is its soft
  twin, whole-answer token F1, which penalises every extra word.
- :class:`JudgeGrader`: an LLM answers yes/no, through a local Hugging Face model (:class:`LocalJudge`)
  or any OpenAI-compatible HTTP endpoint (:class:`OpenAIJudge`).
"""

from __future__ import annotations

import collections
import json
import os
import re
import string
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Protocol, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


@dataclass(frozen=True)
class GradeItem:
    question: str
    gold: str
    answer: str


@dataclass(frozen=True)
class Verdict:
    correct: bool
    error: str | None = None
    """Why grading failed (the item then counts as incorrect), else None."""


class Grader(Protocol):
    def grade(self, items: Sequence[GradeItem]) -> list[Verdict]: ...


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lowercase, drop punctuation and articles, collapse whitespace.

    >>> normalize_answer("The  Teodor-Vask!")
    'teodorvask'
    """
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def first_line(answer: str) -> str:
    """The first non-empty line of an answer (small models often ramble on after it)."""
    return next((line for line in answer.splitlines() if line.strip()), "")


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD token-level F1 between two strings after normalisation.

    >>> round(token_f1("Teodore Vask", "Teodor Vask"), 2)
    0.5
    """
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((collections.Counter(pred) & collections.Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def best_span_f1(answer: str, gold: str) -> float:
    """The best token F1 between ``gold`` and any span of the answer's first line of about its length.

    Small models answer in sentences ("The founder was Teodore Vask."), which plain F1 against a two-word
    gold answer punishes for verbosity; the best span judges the words that matter.

    >>> round(best_span_f1("The founder was Teodore Vask.", "Teodor Vask"), 2)  # the span "vask"
    0.67
    >>> best_span_f1("It was founded by Odila Brenn in 1783", "Odila Brenn")
    1.0
    """
    words, size = normalize_answer(first_line(answer)).split(), len(normalize_answer(gold).split())
    if not words or not size:
        return 0.0
    spans = [" ".join(words[i : i + n]) for n in range(max(1, size - 1), size + 2) for i in range(max(1, len(words) - n + 1))]
    return max(token_f1(span, gold) for span in spans)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
_BOILERPLATE = re.compile(
    r"^\s*(?:(?:the\s+)?answer(?:\s+to\s+(?:this|the)\s+question)?\s+(?:is|would\s+be|was)\s*:?|answer\s*:)\s*",
    re.IGNORECASE)


def concise_answer(answer: str) -> str:
    """What a short answer says: the first sentence of the first line, without "The answer is:" boilerplate
    and without enclosing quotes.

    >>> concise_answer('The answer is: "1833". It was the Factory Act.')
    '1833'
    >>> concise_answer("Odila Brenn built it in 1783. Later she left.")
    'Odila Brenn built it in 1783'
    """
    text = _BOILERPLATE.sub("", first_line(answer), count=1)
    sentence = _SENTENCE_END.split(text.strip(), maxsplit=1)[0]
    return sentence.strip().rstrip(".").strip().strip("\"'“”")


def exact_match(answer: str, gold: str) -> bool:
    """SQuAD's exact match of the concise answer (:func:`concise_answer`) against ``gold``.

    >>> exact_match("The answer is 1847.", "1847"), exact_match("It happened in 1847 in London.", "1847")
    (True, False)
    """
    return bool(normalize_answer(gold)) and normalize_answer(concise_answer(answer)) == normalize_answer(gold)


def answer_f1(answer: str, gold: str) -> float:
    """Whole-answer token F1 of the concise answer against ``gold``: unlike :func:`best_span_f1`, every extra
    word costs precision, so a recital scores low even when it holds the gold span.

    >>> round(answer_f1("The answer is Odila Brenn.", "Odila Brenn"), 2)
    1.0
    >>> round(answer_f1("The lighthouse was built by the engineer Odila Brenn in 1783", "Odila Brenn"), 2)
    0.36
    """
    return token_f1(concise_answer(answer), gold)


def copies_passage(answer: str, passage: str, words: int = 8) -> bool:
    """Whether the answer repeats ``words`` or more consecutive (normalised) words of the passage: a recital.

    >>> copies_passage("It says the tower was built of grey stone by Odila Brenn in 1783.",
    ...                "The tower was built of grey stone by Odila Brenn in 1783 for the port.")
    True
    >>> copies_passage("Odila Brenn.", "The tower was built of grey stone by Odila Brenn in 1783.")
    False
    """
    answer_words, passage_words = normalize_answer(answer).split(), normalize_answer(passage).split()
    grams = {tuple(passage_words[i : i + words]) for i in range(len(passage_words) - words + 1)}
    return any(tuple(answer_words[i : i + words]) in grams for i in range(len(answer_words) - words + 1))


def lenient_accuracy(answers: Sequence[str], golds: Sequence[str], threshold: float = 0.5) -> float:
    """Share of answers whose :func:`best_span_f1` against their gold answer is >= ``threshold``.

    >>> lenient_accuracy(["It was Teodore Vask.", "No idea."], ["Teodor Vask", "1847"])
    0.5
    """
    return sum(best_span_f1(a, g) >= threshold for a, g in zip(answers, golds)) / max(1, len(golds))


def lenient_score(answers: Sequence[str], passage) -> float:
    """Accuracy of ``answers`` to ``passage``'s questions (anything with ``questions`` of ``.answer``) under the
    lenient grader (best-span F1 >= 0.5)."""
    return lenient_accuracy(answers, [qa.answer for qa in passage.questions])


class ContainsGrader:
    """Correct when the normalised gold answer is contained in the normalised first line of the answer."""

    def grade(self, items: Sequence[GradeItem]) -> list[Verdict]:
        verdicts = []
        for item in items:
            gold = normalize_answer(item.gold)
            verdicts.append(Verdict(bool(gold) and gold in normalize_answer(first_line(item.answer))))
        return verdicts


@dataclass
class F1Grader:
    """Correct when :func:`best_span_f1` of the answer against the gold answer is >= ``threshold``: lenient
    about near-misses in spelling ("Teodore Vask" for "Teodor Vask") and about answering in a sentence."""

    threshold: float = 0.5

    def grade(self, items: Sequence[GradeItem]) -> list[Verdict]:
        return [Verdict(best_span_f1(i.answer, i.gold) >= self.threshold) for i in items]


class ExactGrader:
    """Correct when the concise answer matches the gold answer exactly (:func:`exact_match`): a recital that
    contains the gold span is not credited."""

    def grade(self, items: Sequence[GradeItem]) -> list[Verdict]:
        return [Verdict(exact_match(i.answer, i.gold)) for i in items]


JUDGE_PROMPT = (
    "You are grading a student's answer to a question.\n"
    "Question: {question}\nGold answer: {gold}\nStudent answer: {answer}\n"
    "Does the student answer convey the gold answer without contradicting it? Reply with yes or no only."
)


class JudgeBackend(Protocol):
    def complete(self, prompts: Sequence[str]) -> list[str]:
        """One short reply per prompt; may raise on failure."""
        ...


def parse_yes_no(reply: str) -> bool:
    """``True`` for a reply starting with yes, ``False`` for no; ``ValueError`` otherwise."""
    word = normalize_answer(reply).split()[:1]
    if word == ["yes"]:
        return True
    if word == ["no"]:
        return False
    raise ValueError(f"judge reply is neither yes nor no: {reply[:80]!r}")


@dataclass
class JudgeGrader:
    """An LLM judge answering yes/no per (question, gold, answer)."""

    backend: JudgeBackend

    def grade(self, items: Sequence[GradeItem]) -> list[Verdict]:
        prompts = [JUDGE_PROMPT.format(question=i.question, gold=i.gold, answer=i.answer) for i in items]
        try:
            replies = self.backend.complete(prompts)
        except Exception as err:  # a judge outage must not crash a training step
            return [Verdict(False, f"judge failed: {type(err).__name__}: {err}") for _ in items]
        verdicts = []
        for reply in replies:
            try:
                verdicts.append(Verdict(parse_yes_no(reply)))
            except ValueError as err:
                verdicts.append(Verdict(False, str(err)))
        return verdicts


@dataclass
class OpenAIJudge:
    """Any OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        model: model name the endpoint serves.
        base_url: e.g. ``http://127.0.0.1:8000/v1``; defaults to ``$OPENAI_BASE_URL`` or OpenAI's.
        api_key: defaults to ``$OPENAI_API_KEY`` (may be empty for local servers).
        timeout: seconds per request.
    """

    model: str = "gpt-4.1"
    base_url: str | None = None
    api_key: str | None = None
    timeout: float = 30.0

    def complete(self, prompts: Sequence[str]) -> list[str]:
        base = (self.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/")
        key = self.api_key if self.api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        return [self._one(base, key, prompt) for prompt in prompts]

    def _one(self, base: str, key: str, prompt: str) -> str:
        body = json.dumps(
            {"model": self.model, "messages": [{"role": "user", "content": prompt}], "temperature": 0, "max_tokens": 3}
        ).encode()
        request = urllib.request.Request(
            f"{base}/chat/completions",
            data=body,
            headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})},
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            payload = json.loads(response.read().decode())
        return str(payload["choices"][0]["message"]["content"])


@dataclass
class LocalJudge:
    """A local Hugging Face chat model as the judge (greedy, a few tokens)."""

    bundle: object  # seal_gym.models.ModelBundle; untyped here to keep this module import-light

    def complete(self, prompts: Sequence[str]) -> list[str]:
        from seal_gym.adapt import Query, greedy_answers

        queries = [Query(self.bundle.chat_prompt(p), max_new_tokens=3) for p in prompts]
        return greedy_answers(self.bundle.model, self.bundle.tokenizer, queries)


def make_grader(grader: str | Grader = "contains", **kwargs) -> Grader:
    """A grader by name: ``"contains"``, ``"f1"``, ``"exact"``, ``"judge-openai"`` (kwargs go to :class:`OpenAIJudge`)
    or ``"judge-local"`` (kwarg ``bundle``: a loaded ModelBundle); a Grader object passes through."""
    if not isinstance(grader, str):
        if not callable(getattr(grader, "grade", None)):
            raise TypeError("a grader must have a grade(items) -> list[Verdict] method")
        return grader
    if grader == "contains":
        return ContainsGrader()
    if grader == "f1":
        return F1Grader(**kwargs)
    if grader == "exact":
        return ExactGrader()
    if grader == "judge-openai":
        return JudgeGrader(OpenAIJudge(**kwargs))
    if grader == "judge-local":
        return JudgeGrader(LocalJudge(**kwargs))
    raise ValueError(f"unknown grader {grader!r}; choose contains, f1, exact, judge-openai or judge-local")
