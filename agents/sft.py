"""Supervised fine-tuning on a teacher's self-edits: a warm start for the writer (distillation), then RL from it.

SEAL's ReST-EM fine-tunes the model on its own best self-edits; a small model can first learn the format and
content of a bigger model's. Each round of :class:`SFT` collects and scores the current writer's self-edits
like any agent (so its curve pairs with the others' and shows what the distillation buys), then runs ReST-EM's
M-step (:func:`~seal_gym.agents.rest_em.fine_tune`) on the *demonstrations* instead of on its own samples.

Demonstrations are (prompt, self-edit) pairs: a ``.jsonl`` file of ``{"prompt", "completion"}`` records for
any env, or a source the env's domain reads (:attr:`~seal_gym.domain_spec.DomainSpec.demonstrations`:
SealSquad takes a SEAL-format file's ``completions``, e.g. ``train.json@train``, with each prompt as the env
shows it). The trained writer is a run like any other: ``--init-policy RUN`` starts another agent from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from seal_gym.agents.base import Agent, AgentConfig
from seal_gym.agents.rest_em import fine_tune
from seal_gym.agents.rollouts import Rollouts
from seal_gym.registration import domain_spec


@dataclass
class SFTConfig(AgentConfig):
    """Supervised fine-tuning on demonstrations (lr, epochs and batch as ReST-EM's M-step)."""

    demonstrations: str | None = None
    """Where the teacher's (prompt, self-edit) pairs come from: a ``.jsonl`` file of ``{"prompt", "completion"}``
    records, or a source the env's domain reads (SealSquad: a SEAL-format JSON with ``completions``)."""
    demonstrations_per_prompt: int = 0
    """Use at most this many demonstrations of each prompt (the first ones); 0: all."""
    epochs: int = 1
    """Supervised passes over the demonstrations per round."""
    batch_size: int = 5
    """Demonstrations per optimizer step."""
    merge: bool = False
    """Merge the adapter into the weights after every round (False: one adapter trained over all rounds)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.epochs < 1 or self.batch_size < 1 or self.demonstrations_per_prompt < 0:
            raise ValueError(f"need epochs >= 1, batch_size >= 1 and demonstrations_per_prompt >= 0, got "
                             f"{self.epochs}, {self.batch_size} and {self.demonstrations_per_prompt}")


def load_demonstrations(source: str, env_id: str, env_kwargs: Mapping[str, Any], per_prompt: int = 0) -> list[tuple[str, str]]:
    """The (prompt, self-edit) pairs of ``source`` for the env ``env_id`` made with ``env_kwargs``.

    Raises:
        ValueError: a source that holds no pair, a malformed ``.jsonl`` line, or a non-``.jsonl`` source for an
            env whose domain reads no demonstrations.
    """
    if source.endswith(".jsonl"):
        pairs = []
        for number, line in enumerate(Path(source).read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                record = json.loads(line)
                if not isinstance(record, dict) or not {"prompt", "completion"} <= set(record):
                    raise ValueError(f"{source}:{number}: expected a JSON object with 'prompt' and 'completion'")
                pairs.append((str(record["prompt"]), str(record["completion"])))
    else:
        spec = domain_spec(env_id)
        if spec is None or spec.demonstrations is None:
            raise ValueError(f"demonstrations {source!r}: {env_id} reads none from such a source; pass a .jsonl file "
                             "of {\"prompt\", \"completion\"} records")
        pairs = list(spec.demonstrations(source, env_kwargs))
    pairs = [(p, c) for p, c in pairs if c.strip()]
    if per_prompt:
        kept, seen = [], {}
        for prompt, completion in pairs:
            seen[prompt] = seen.get(prompt, 0) + 1
            if seen[prompt] <= per_prompt:
                kept.append((prompt, completion))
        pairs = kept
    if not pairs:
        raise ValueError(f"demonstrations {source!r}: no (prompt, self-edit) pair with a non-empty self-edit")
    return pairs


class SFT(Agent):
    """Collect and score like any agent; update on the demonstrations (see the module docstring)."""

    name = "sft"
    config_class = SFTConfig
    needs_behaviour_logprobs = False
    config: SFTConfig

    def __init__(self, policy: Any, env: Any, config: SFTConfig | None = None,
                 env_kwargs: dict[str, Any] | None = None, eval_env: Any = None) -> None:
        super().__init__(policy, env, config, env_kwargs, eval_env)
        if not self.config.demonstrations:
            raise ValueError("sft needs demonstrations (--demonstrations SOURCE): a .jsonl file of "
                             "{\"prompt\", \"completion\"} records or a source the env's domain reads")
        self.demonstrations = load_demonstrations(self.config.demonstrations, self.env_id, env_kwargs or {},
                                                  self.config.demonstrations_per_prompt)
        self._encoded: list | None = None

    def update(self, rollouts: Rollouts) -> dict[str, float]:
        if self._encoded is None:  # tokenized once: the demonstrations and the tokenizer do not change
            # A demonstration longer than the writer may write is cut there: it learns what it can produce.
            limit = getattr(getattr(self.policy, "sampling", None), "max_new_tokens", None)
            self._encoded = [self.policy.encode(prompt, text) for prompt, text in self.demonstrations]
            for pair in self._encoded:
                pair.completion_ids = pair.completion_ids[:limit]
        return fine_tune(self, self._encoded, 1.0)
