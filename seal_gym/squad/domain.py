"""SealSquad's domain: passages are the tasks, self-edits the actions, accuracy without the passage the reward."""

from __future__ import annotations

from typing import Any, Literal, Sequence, get_args

import numpy as np

from seal_gym.adapt import InnerLoopEngine, LoraSpec, TrainSpec
from seal_gym.domain import Scored, result_info
from seal_gym.squad.grading import Grader
from seal_gym.squad.inner_loop import AnswerStyle, KnowledgeInnerLoop, KnowledgeItem, KnowledgeResult
from seal_gym.squad.passages import Passage, load_passages
from seal_gym.squad.presets import inner_preset as get_inner_preset
from seal_gym.squad.prompts import PromptStyle, get_prompt_style
from seal_gym.text import clean_self_edit

Reward = Literal["accuracy", "gain", "answer_logprob", "answer_f1", "accuracy_vs_passage",
                 "answer_logprob_vs_passage", "answer_f1_vs_passage"]
REWARDS: tuple[str, ...] = get_args(Reward)
"""Every ``reward=`` kind; ``*_vs_passage`` subtracts the passage-only adapter's score under the same inner seed."""
SCORE_OF_REWARD = {"accuracy": "accuracy", "answer_logprob": "logprob", "answer_f1": "f1"}
"""Reward kind (without ``_vs_passage``) -> the name of its score in a result's metrics."""


def reward_of(result: KnowledgeResult, kind: str) -> float:
    """The reward ``kind`` (see :data:`REWARDS`) of one inner-loop result.

    ``answer_logprob`` is the gold answers' mean per-token log-probability after the update (dense, <= 0);
    ``answer_f1`` the whole-answer token F1 of the concise answers; ``X_vs_passage`` is X minus the same
    score of the adapter trained on the passage alone with the same inner seed: > 0 means the self-edit
    taught more than the passage did.
    """
    if kind == "gain":
        return result.gain
    base, _, versus = kind.partition("_vs_")
    score = SCORE_OF_REWARD[base]
    own = {"accuracy": result.adapter_accuracy, **result.metrics}.get(score)
    reference = result.passage_metrics.get(score) if versus else 0.0
    if own is None or reference is None:
        raise ValueError(f"reward {kind!r} needs a score the inner loop did not compute")
    return own - reference


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
        reward: Reward = "accuracy",
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
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {', '.join(REWARDS)}; got {reward!r}")
        preset = get_inner_preset(inner_preset)
        self.passages = load_passages(dataset)
        self.style = get_prompt_style(prompt_style)

        # An argument given explicitly (not None) wins over the preset's.
        config = preset.knowledge_config(lora=lora, train=train, prompt_style=self.style, answer_style=answer_style,
                                         max_answer_tokens=max_answer_tokens, include_passage=include_passage,
                                         score_logprob=score_logprob or "logprob" in reward)
        self.inner_loop = KnowledgeInnerLoop(model, engine=engine, grader=grader, config=config)
        self.reward_kind = reward
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
        """All self-edits go through ONE inner-loop call. Under ``accuracy`` and ``gain`` an empty one scores 0
        and is not trained; under the other kinds, whose scale has no natural worst value (log-probabilities)
        or whose 0 means "as good as the passage", it is scored for what it is: the passage alone."""
        cleaned = [clean_self_edit(action, self.max_action_chars) for _, action, _ in items]
        scored = [
            Scored(0.0, {"passage_index": index, "action_notes": c.notes, "error": "empty self-edit: nothing to train on"},
                   summary="empty self-edit: nothing to train on -> reward 0.0")
            for (index, _, _), c in zip(items, cleaned)
        ]
        empty = [not self.style.split_items(c.text) for c in cleaned]
        scores_empty = self.reward_kind not in ("accuracy", "gain")
        live = [i for i in range(len(items)) if scores_empty or not empty[i]]
        knowledge_items = [KnowledgeItem(cleaned[i].text, self.passages[items[i][0]], items[i][2]) for i in live]
        reference = "passage" if self.reward_kind.endswith("_vs_passage") else None
        for i, result in zip(live, self.inner_loop.run(knowledge_items, reference=reference)):
            reward = reward_of(result, self.reward_kind)
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
