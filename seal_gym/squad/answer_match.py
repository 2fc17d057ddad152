"""How an answer's text compares with a gold answer: SQuAD's normalisation, token F1, exact match of the
concise answer, and the lenient (best-span F1) score. Plain functions on strings, used by the graders
(:mod:`seal_gym.squad.grading`) and by the answer metrics (:mod:`seal_gym.squad.metrics`).
"""

from __future__ import annotations

import collections
import re
import string
from typing import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


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
