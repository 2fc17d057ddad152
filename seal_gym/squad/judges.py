"""LLM judges as graders: a model answers yes/no per (question, gold, answer), through a local Hugging Face
model (:class:`LocalJudge`) or any OpenAI-compatible HTTP endpoint (:class:`OpenAIJudge`). A judge that fails
marks its items incorrect with the reason (:class:`JudgeGrader`); it never raises.
"""

from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import dataclass
from typing import Protocol, Sequence

from seal_gym.squad.answer_match import normalize_answer
from seal_gym.squad.grading import GradeItem, Verdict


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
