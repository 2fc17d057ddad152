"""SealSquad-v0: knowledge incorporation through self-edits."""

from __future__ import annotations

from typing import Any

from seal_gym.envs.base import SealEnv
from seal_gym.squad.domain import SquadDomain

INFO_METRICS = ("baseline_accuracy", "adapter_accuracy", "gain", "final_loss", "num_train_tokens",
                "num_optimizer_steps", "answer_exact", "answer_f1", "answer_words", "answer_recital", "answer_logprob",
                "passage_accuracy", "passage_f1", "passage_logprob")
"""The step-info numbers training loops log (``metadata["info_metrics"]``; ``passage_index`` names, not measures).
An ``answer_*`` or ``passage_*`` number the env's settings do not compute is logged as NaN."""


class SealSquadEnv(SealEnv):
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
    ``reward="gain"``: that accuracy minus the base model's accuracy, in [-1, 1]. Under these two a self-edit
    that is empty after cleaning is not trained on and scores 0 (``info["error"]`` says why).
    ``reward="answer_logprob"``: the mean per-token log-probability of the gold answers after the update
    (teacher-forced: dense, grader-free, <= 0). ``reward="answer_f1"``: whole-answer token F1 of the concise
    answers (best with ``answer_style="short"``; a recital scores low). ``reward="X_vs_passage"`` (X one of
    accuracy, answer_logprob, answer_f1): X minus the same score of an adapter trained on the passage alone
    with the same inner seed (trained once per passage, seed and weights version, then cached), so > 0
    means the self-edit taught more than the passage did. Under these kinds an empty self-edit is scored
    as the passage alone. Two cheap estimates train nothing (studies/cheap_rewards.py measures them against
    the real reward): ``reward="answer_logprob_in_context"``, the gold answers' log-probability with the
    self-edit in the prompt, and ``reward="answer_gradient_alignment"``, the dot product of the self-edit's
    training-loss gradient with the gold answers' loss gradient on the inner loop's LoRA adapter at its start
    (first-order: lr x it is the log-probability gained by one SGD step of rate lr). ``info`` carries every
    measure: ``answer_exact``, ``answer_f1``, ``answer_words``, ``answer_recital`` (share of answers that repeat
    >= 8 passage words), ``answer_logprob`` and, for the relative kinds, the same for the passage (``passage_*``).

    ## Starting State
    A passage drawn uniformly with ``self.np_random``, and an inner-loop seed drawn with it too, so that
    a seeded ``reset`` fixes the whole episode. ``options={"passage_index": i}`` pins the passage and
    ``options={"inner_seed": s}`` the inner-loop seed.

    ## Episode End
    One self-edit per episode: ``terminated=True`` after the first step; never truncated.

    ## Arguments
    - ``model``: anything :func:`seal_gym.models.load_model` accepts; ``None`` is the embedded
      SmolLM2-135M-Instruct; ``"tiny-random"`` for tests; pass a loaded ModelBundle to share weights with
      an agent.
    - ``dataset``: ``"demo"`` (built-in invented passages), a SEAL-format JSON path, ``"hf:squad"``, or a
      list of :class:`~seal_gym.squad.passages.Passage`.
    - ``prompt_style``: ``"implications"``, ``"implications-long"``, ``"rewrite"``, ``"self-qa"`` or a
      :class:`~seal_gym.squad.prompts.PromptStyle`.
    - ``grader``: ``"contains"`` (default; credits a recital that holds the gold span), ``"f1"`` (best-span
      F1, lenient), ``"exact"`` (exact match of the concise answer), ``"judge-openai"``, ``"judge-local"`` or
      a grader object.
    - ``reward``: one of ``seal_gym.squad.domain.REWARDS`` (see Rewards).
    - ``answer_style``: ``"free"`` (SEAL's question) or ``"short"`` (asks for just the answer, in a few words).
    - ``score_logprob``: also score the gold answers' log-probability (on for the ``*logprob*`` rewards).
    - ``max_answer_tokens``: greedy answer length; 0 generates none (only with a log-probability reward).
    - ``include_passage``: train on the passage too, after the self-edit's items (SEAL does).
    - ``inner_preset``: ``"seal"`` (default) or ``"small"`` (the regime chosen for a 135M model on a CPU,
      :mod:`seal_gym.squad.presets`); it sets ``lora``, ``train``, ``answer_style``, ``max_answer_tokens``
      and ``include_passage``, and any of them given explicitly wins.
    - ``engine``: ``"auto"``, ``"sequential"``, ``"batched"``, ``"ray"`` or an engine object (see
      :func:`seal_gym.adapt.make_engine`; tests inject scripted engines).
    - ``lora`` / ``train``: :class:`~seal_gym.adapt.LoraSpec` / :class:`~seal_gym.adapt.TrainSpec` overrides.
    - ``max_self_edit_chars``: longest self-edit used, in characters (cost bound).
    - ``render_mode``: ``None`` or ``"ansi"``.

    ## Version History
    - v0: initial release; reward kinds, answer styles and answer metrics added without changing defaults.
    """

    metadata = {**SealEnv.metadata, "info_metrics": INFO_METRICS}

    def __init__(self, render_mode: str | None = None, **kwargs: Any):
        super().__init__(SquadDomain(**kwargs), render_mode)
