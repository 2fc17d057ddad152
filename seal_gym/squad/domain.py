"""SealSquad's domain: passages are the tasks, self-edits the actions, accuracy without the passage the reward."""

from __future__ import annotations

from typing import Any, Literal, Sequence

import numpy as np

from seal_gym.adapt import InnerLoopEngine, LoraSpec, TrainSpec
from seal_gym.domain import Scored, result_info
from seal_gym.squad.grading import Grader
from seal_gym.squad.inner_loop import KnowledgeConfig, KnowledgeInnerLoop, KnowledgeItem
from seal_gym.squad.passages import Passage, load_passages
from seal_gym.squad.prompts import PromptStyle, get_prompt_style
from seal_gym.text import clean_self_edit

Reward = Literal["accuracy", "gain"]


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
    ):
        if reward not in ("accuracy", "gain"):
            raise ValueError(f"reward must be 'accuracy' or 'gain', got {reward!r}")
        self.passages = load_passages(dataset)
        self.style = get_prompt_style(prompt_style)
        config = KnowledgeConfig(lora=lora or LoraSpec(), train=train or TrainSpec(), prompt_style=self.style)
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
        """All non-empty self-edits go through ONE inner-loop call; empty ones score 0 and are not trained."""
        cleaned = [clean_self_edit(action, self.max_action_chars) for _, action, _ in items]
        scored = [
            Scored(0.0, {"passage_index": index, "action_notes": c.notes, "error": "empty self-edit: nothing to train on"},
                   summary="empty self-edit: nothing to train on -> reward 0.0")
            for (index, _, _), c in zip(items, cleaned)
        ]
        live = [i for i, c in enumerate(cleaned) if self.style.split_items(c.text)]
        knowledge_items = [KnowledgeItem(cleaned[i].text, self.passages[items[i][0]], items[i][2]) for i in live]
        for i, result in zip(live, self.inner_loop.run(knowledge_items)):
            reward = result.gain if self.reward_kind == "gain" else result.adapter_accuracy
            info = result_info(result, passage_index=items[i][0], action_notes=cleaned[i].notes, gain=result.gain)
            loss = "none" if result.final_loss is None else f"{result.final_loss:.3f}"
            summary = (f"{self.passages[items[i][0]].title}: baseline {result.baseline_accuracy:.2f} -> adapted "
                       f"{result.adapter_accuracy:.2f} (loss {loss}, {result.num_sequences} sequences) reward {reward:.2f}")
            scored[i] = Scored(float(reward), info, result, summary)
        return scored
