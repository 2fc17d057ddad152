"""SealSquad-v0: knowledge incorporation through self-edits."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal, Sequence

import gymnasium as gym

from seal_gym.adapt import LoraSpec, TrainSpec
from seal_gym.grading import Grader
from seal_gym.knowledge import KnowledgeConfig, KnowledgeInnerLoop, KnowledgeItem, KnowledgeResult
from seal_gym.passages import Passage, load_passages
from seal_gym.prompts import PromptStyle, get_prompt_style
from seal_gym.spaces import FreeText
from seal_gym.text import clean_self_edit

MAX_OBSERVATION_CHARS = 100_000
TIMING_KEYS = ("train_seconds", "answer_seconds", "seconds")


def result_info(result: KnowledgeResult) -> dict[str, Any]:
    """``info`` for a step: everything in the result except wall-clock timings (kept out so that two
    steps from the same seed give identical infos, as ``check_env`` requires)."""
    info = {k: v for k, v in asdict(result).items() if k not in TIMING_KEYS}
    info["gain"] = result.gain
    return info


class SquadEpisodes:
    """What the single and the vector SealSquad envs share: passages, prompts, the inner loop, scoring.

    Takes the arguments listed in :class:`SealSquadEnv`'s docstring.
    """

    def __init__(
        self,
        model: Any = None,
        dataset: str | list[Passage] = "demo",
        prompt_style: str | PromptStyle = "implications",
        grader: str | Grader = "contains",
        reward: Literal["accuracy", "gain"] = "accuracy",
        engine: str = "auto",
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
        self.max_self_edit_chars = max_self_edit_chars

    def observation(self, index: int) -> str:
        passage = self.passages[index]
        return self.style.render(passage.title, passage.context)

    def reset_info(self, index: int) -> dict[str, Any]:
        passage = self.passages[index]
        return {"passage_index": index, "title": passage.title, "passage": passage.context,
                "num_questions": len(passage.questions)}

    def score(self, episodes: Sequence[tuple[int, Any, int]]) -> list[tuple[float, dict[str, Any], KnowledgeResult | None]]:
        """Reward, info and full result for each ``(passage_index, action, inner_seed)``.

        All non-empty self-edits go through ONE inner-loop call. Empty ones score 0 and are not trained.

        Raises:
            TypeError: if an action is not a string.
        """
        cleaned = [clean_self_edit(action, self.max_self_edit_chars) for _, action, _ in episodes]
        outputs: list[tuple[float, dict[str, Any], KnowledgeResult | None]] = [
            (0.0, {"passage_index": index, "action_notes": c.notes,
                   "error": "empty self-edit: nothing to train on"}, None)
            for (index, _, _), c in zip(episodes, cleaned)
        ]
        live = [i for i, c in enumerate(cleaned) if self.style.split_items(c.text)]
        items = [KnowledgeItem(cleaned[i].text, self.passages[episodes[i][0]], episodes[i][2]) for i in live]
        for i, result in zip(live, self.inner_loop.run(items)):
            info = {"passage_index": episodes[i][0], "action_notes": cleaned[i].notes, **result_info(result)}
            reward = result.gain if self.reward_kind == "gain" else result.adapter_accuracy
            outputs[i] = (float(reward), info, result)
        return outputs


class SealSquadEnv(gym.Env[str, str]):
    """Knowledge incorporation: write a self-edit about a passage, learn from it, answer without it.

    ## Description
    SEAL's knowledge-incorporation task (Zweiger et al., 2025). Each episode shows one passage. The agent
    writes a *self-edit* (e.g. a list of implications of the passage). ``step`` trains a fresh LoRA
    adapter of the language model on the self-edit's items (each prefixed with the title) plus the
    passage, asks the passage's questions *without* the passage, grades the answers, and discards the
    adapter. The base model is never modified.

    ## Action Space
    :class:`~seal_gym.spaces.FreeText`: any printable text, newlines included. Text beyond
    ``max_self_edit_chars`` is cut, control characters are removed and invalid surrogates replaced (noted
    in ``info["action_notes"]``). A non-string action raises ``TypeError``.

    ## Observation Space
    :class:`~seal_gym.spaces.FreeText`: the self-edit prompt (instruction, title and passage) as plain
    text, ready for an LLM policy to wrap in its own chat template. The title and passage are also in the
    ``info`` returned by ``reset``.

    ## Rewards
    ``reward="accuracy"`` (default): the adapted model's accuracy on the passage's questions, in [0, 1].
    ``reward="gain"``: that accuracy minus the base model's accuracy, in [-1, 1]. A self-edit that is
    empty after cleaning is not trained on and scores 0 (``info["error"]`` says why).

    ## Starting State
    A passage drawn uniformly with ``self.np_random``, and an inner-loop seed drawn with it too, so that
    a seeded ``reset`` fixes the whole episode.

    ## Episode End
    One self-edit per episode: ``terminated=True`` after the first step; never truncated.

    ## Arguments
    - ``model``: anything :func:`seal_gym.models.load_model` accepts; ``None`` is the embedded
      SmolLM2-135M-Instruct; ``"tiny-random"`` for tests; pass a loaded ModelBundle to share weights with
      an agent.
    - ``dataset``: ``"demo"`` (built-in invented passages), a SEAL-format JSON path, ``"hf:squad"``, or a
      list of :class:`~seal_gym.passages.Passage`.
    - ``prompt_style``: ``"implications"``, ``"implications-long"``, ``"rewrite"``, ``"self-qa"`` or a
      :class:`~seal_gym.prompts.PromptStyle`.
    - ``grader``: ``"contains"`` (default), ``"f1"``, ``"judge-openai"``, ``"judge-local"`` or a grader object.
    - ``reward``: ``"accuracy"`` or ``"gain"``.
    - ``engine``: ``"auto"``, ``"sequential"`` or ``"batched"``.
    - ``lora`` / ``train``: :class:`~seal_gym.adapt.LoraSpec` / :class:`~seal_gym.adapt.TrainSpec` overrides.
    - ``max_self_edit_chars``: longest self-edit used, in characters (cost bound).
    - ``render_mode``: ``None`` or ``"ansi"``.

    ## Version History
    - v0: initial release.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(self, render_mode: str | None = None, **kwargs: Any):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}")
        self.episodes = SquadEpisodes(**kwargs)
        self.passages = self.episodes.passages
        self.inner_loop = self.episodes.inner_loop
        self.render_mode = render_mode
        self.observation_space = FreeText(MAX_OBSERVATION_CHARS)
        self.action_space = FreeText(self.episodes.max_self_edit_chars)
        self.passage: Passage | None = None
        self.passage_index = -1
        self.inner_seed = 0
        self.last_result: KnowledgeResult | None = None
        """The last step's full result, wall-clock timings included."""
        self._last_render = ""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Draw a passage (or take ``options["passage_index"]``) and return its self-edit prompt."""
        super().reset(seed=seed)
        options = options or {}
        index = options.get("passage_index")
        if index is None:
            index = int(self.np_random.integers(len(self.passages)))
        elif not 0 <= int(index) < len(self.passages):
            raise ValueError(f"passage_index must be in [0, {len(self.passages)}), got {index}")
        self.passage_index = int(index)
        self.passage = self.passages[self.passage_index]
        self.inner_seed = int(self.np_random.integers(2**31 - 1))
        self.last_result = None
        return self.episodes.observation(self.passage_index), self.episodes.reset_info(self.passage_index)

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self.passage is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        reward, info, result = self.episodes.score([(self.passage_index, action, self.inner_seed)])[0]
        self.last_result = result
        if result is None:
            self._last_render = f"{info['error']} -> reward 0.0"
        else:
            self._last_render = (
                f"{self.passage.title}: baseline {result.baseline_accuracy:.2f} -> adapted "
                f"{result.adapter_accuracy:.2f} (loss {result.final_loss:.3f}, {result.num_sequences} sequences)"
                f" reward {reward:.2f}"
            )
        self.passage = None  # one self-edit per episode
        return self.episodes.observation(self.passage_index), reward, True, False, info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self._last_render
        return None
