"""SealSquad's domain: passages are the tasks, self-edits the actions, accuracy without the passage the reward."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from seal_gym.adapt import AdaptRequest, InnerLoopEngine, LoraSpec, Query, TrainSpec
from seal_gym.domain import Scored, result_info
from seal_gym.rewards import RewardKind, RewardKinds
from seal_gym.squad.grading import Grader
from seal_gym.squad.inner_loop import AnswerStyle, KnowledgeInnerLoop, KnowledgeItem, KnowledgeResult, in_context_prompt
from seal_gym.squad.passages import Passage, load_passages
from seal_gym.squad.presets import inner_preset as get_inner_preset
from seal_gym.squad.prompts import PromptStyle, get_prompt_style
from seal_gym.text import clean_self_edit

REWARD_KINDS = RewardKinds("passage", "the adapter trained on the passage alone with the same inner seed", [
    RewardKind("accuracy", "accuracy", "accuracy on the passage's questions after the update", empty="zero"),
    RewardKind("gain", "gain", "accuracy after the update minus before it", empty="zero"),
    RewardKind("answer_logprob", "logprob", "the gold answers' mean per-token log-probability after the update "
               "(dense, <= 0)"),
    RewardKind("answer_f1", "f1", "whole-answer token F1 of the concise answers after the update"),
    RewardKind("answer_logprob_in_context", "logprob_in_context", "the gold answers' mean per-token log-probability "
               "with the self-edit in the prompt instead of in the weights: no training, one forward pass (a cheap "
               "estimate, validated in studies/cheap_rewards.py)"),
    RewardKind("answer_gradient_alignment", "gradient_alignment", "the dot product of the self-edit's training-loss "
               "gradient with the gold answers' loss gradient on the inner loop's LoRA adapter at its start (seed 0): "
               "one SGD step of rate lr on the self-edit raises their log-probability by lr x this, to first order; no "
               "training (a cheap estimate, validated in studies/cheap_rewards.py)"),
])
for _name in ("accuracy", "answer_logprob", "answer_f1"):
    REWARD_KINDS.add_relative(_name)
REWARDS: tuple[str, ...] = tuple(REWARD_KINDS.names())
"""Every ``reward=`` kind (see :data:`REWARD_KINDS`); ``*_vs_passage`` subtracts the passage-only adapter's
score under the same inner seed."""


def result_metrics(result: KnowledgeResult) -> dict[str, float | None]:
    """A knowledge result's metrics under the names its reward kinds use."""
    return {"accuracy": result.adapter_accuracy, "gain": result.gain, **result.metrics}


def reward_of(result: KnowledgeResult, kind: str) -> float:
    """The reward ``kind`` (one of :data:`REWARD_KINDS`) of one inner-loop result.

    Raises:
        ValueError: an unknown kind, or one that needs a score the inner loop did not compute.
    """
    return REWARD_KINDS.get(kind).value(result_metrics(result), result.passage_metrics)


class SquadDomain:
    """Passages (the tasks, by index), the self-edit prompt, and the knowledge inner loop that scores.

    Takes the arguments listed in :class:`~seal_gym.envs.squad.SealSquadEnv`'s docstring. Reset options:
    ``passage_index`` pins the passage, ``inner_seed`` the inner-loop seed.
    """

    max_observation_chars = 100_000

    def __init__(
        self,
        model: Any = None,
        dataset: str | list[Passage] = "demo",
        prompt_style: str | PromptStyle = "implications",
        grader: str | Grader = "contains",
        reward: str = "accuracy",
        engine: str | InnerLoopEngine = "auto",
        lora: LoraSpec | None = None,
        train: TrainSpec | None = None,
        max_self_edit_chars: int = 16_000,
        answer_style: AnswerStyle | None = None,
        score_logprob: bool = False,
        max_answer_tokens: int | None = None,
        include_passage: bool | None = None,
        inner_preset: str = "seal",
    ):
        kind = REWARD_KINDS.get(reward)  # a ValueError naming the kinds for an unknown one
        preset = get_inner_preset(inner_preset)
        self.passages = load_passages(dataset)
        self.style = get_prompt_style(prompt_style)

        # An argument given explicitly (not None) wins over the preset's.
        config = preset.knowledge_config(lora=lora, train=train, prompt_style=self.style, answer_style=answer_style,
                                         max_answer_tokens=max_answer_tokens, include_passage=include_passage,
                                         score_logprob=score_logprob or kind.metric == "logprob")
        self.inner_loop = KnowledgeInnerLoop(model, engine=engine, grader=grader, config=config)
        self.reward_kind = kind
        self.max_action_chars = max_self_edit_chars

    def draw(self, rng: np.random.Generator, options: dict[str, Any]) -> int:
        index = options.get("passage_index")
        if index is None:
            return int(rng.integers(len(self.passages)))
        if not 0 <= int(index) < len(self.passages):
            raise ValueError(f"passage_index must be in [0, {len(self.passages)}), got {index}")
        return int(index)

    def observation(self, task: int) -> str:
        passage = self.passages[task]
        return self.style.render(passage.title, passage.context)

    def reset_info(self, task: int) -> dict[str, Any]:
        passage = self.passages[task]
        return {"passage_index": task, "title": passage.title, "passage": passage.context,
                "num_questions": len(passage.questions), "task_key": f"passage_index={task}"}

    def score(self, items: Sequence[tuple[int, Any, int]]) -> list[Scored]:
        """All self-edits go through ONE inner-loop call. An empty one scores as its reward kind says
        (:attr:`~seal_gym.rewards.RewardKind.empty`): 0 untrained, or scored for what it is, the passage alone."""
        cleaned = [clean_self_edit(action, self.max_action_chars) for _, action, _ in items]
        scored = [
            Scored(0.0, {"passage_index": index, "action_notes": c.notes, "error": "empty self-edit: nothing to train on"},
                   summary="empty self-edit: nothing to train on -> reward 0.0")
            for (index, _, _), c in zip(items, cleaned)
        ]
        if self.reward_kind.metric in UNTRAINED:
            return self._score_untrained(items, [c.text for c in cleaned], [c.notes for c in cleaned])
        empty = [not self.style.split_items(c.text) for c in cleaned]
        scores_empty = self.reward_kind.empty == "scored"
        live = [i for i in range(len(items)) if scores_empty or not empty[i]]
        knowledge_items = [KnowledgeItem(cleaned[i].text, self.passages[items[i][0]], items[i][2]) for i in live]
        reference = self.reward_kind.reference
        for i, result in zip(live, self.inner_loop.run(knowledge_items, reference=reference)):
            reward = self.reward_kind.value(result_metrics(result), result.passage_metrics)
            info = result_info(result, passage_index=items[i][0], action_notes=cleaned[i].notes, gain=result.gain,
                               **{f"answer_{k}": v for k, v in result.metrics.items()},
                               **{f"passage_{k}": v for k, v in result.passage_metrics.items()})
            if empty[i]:
                info["error"] = "empty self-edit: scored as the passage alone"
            loss = "none" if result.final_loss is None else f"{result.final_loss:.3f}"
            summary = (f"{self.passages[items[i][0]].title}: baseline {result.baseline_accuracy:.2f} -> adapted "
                       f"{result.adapter_accuracy:.2f} (loss {loss}, {result.num_sequences} sequences) reward {reward:.2f}")
            scored[i] = Scored(float(reward), info, result, summary)
        return scored

    def _score_untrained(self, items: Sequence[tuple[int, Any, int]], texts: list[str],
                         notes: list[list[str]]) -> list[Scored]:
        scorer, what = UNTRAINED[self.reward_kind.metric]
        values = scorer(self.inner_loop, [(t, self.passages[index]) for (index, _, _), t in zip(items, texts)])
        return [Scored(float(v), {"passage_index": index, "action_notes": n, self.reward_kind.name: v},
                       summary=f"{self.passages[index].title}: {what} {v:.3f} (no training)")
                for (index, _, _), v, n in zip(items, values, notes)]


def in_context_logprobs(loop: KnowledgeInnerLoop, edits: Sequence[tuple[str, Passage]]) -> list[float]:
    """Each (self-edit, passage)'s gold answers' mean per-token log-probability with the self-edit where the
    passage would be in the prompt (no training): one engine call of requests without training sequences."""
    requests = [AdaptRequest((), tuple(Query(in_context_prompt(loop.bundle, replace(p, context=text), qa.question),
                                             max_new_tokens=0, target=qa.answer) for qa in p.questions))
                for text, p in edits]
    return [float(np.mean([lp for lp in outcome.target_logprobs if lp is not None] or [np.nan]))
            for outcome in loop.engine.adapt(requests)]



ALIGNMENT_SEED = 0
"""Seeds the adapter whose gradients ``answer_gradient_alignment`` compares (not the episode's inner seed)."""


def answer_gradient_alignments(loop: KnowledgeInnerLoop, edits: Sequence[tuple[str, Passage]]) -> list[float]:
    """Each (self-edit, passage)'s ``<grad training loss, grad gold answers' loss>`` on the inner loop's LoRA adapter
    at its start (:func:`seal_gym.adapt.gradient_alignments`): the training sequences the inner loop would train
    on (the passage included, as configured) against the passage's questions as asked after training.

    The adapter is seeded with :data:`ALIGNMENT_SEED`, not the episode's inner seed, so that one passage's
    self-edits are compared through the same random projection (A), the questions' gradient is computed once
    per passage in a call, and the reward is deterministic. An empty self-edit is scored as the passage alone
    (0.0 without ``include_passage``: nothing to train on)."""
    from seal_gym.adapt import gradient_alignments

    requests = [replace(loop.request(text, p, ALIGNMENT_SEED, ask=False),
                        queries=tuple(replace(q, max_new_tokens=0, target=qa.answer)
                                      for q, qa in zip(loop.queries(p), p.questions)))
                for text, p in edits]
    return gradient_alignments(loop.bundle.model, loop.bundle.tokenizer, requests)


UNTRAINED = {"logprob_in_context": (in_context_logprobs, "in-context log-probability"),
             "gradient_alignment": (answer_gradient_alignments, "gradient alignment")}
"""The reward kinds' metrics scored without the inner loop's training: the scorer and its name for summaries."""
