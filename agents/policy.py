"""The policy protocol and a language-model policy that writes self-edits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

import torch

from seal_gym.models import ModelBundle, load_model


@runtime_checkable
class TextPolicy(Protocol):
    """Anything that maps text observations to text actions (one action per observation)."""

    def act(self, observations: Sequence[str]) -> list[str]: ...


@dataclass(frozen=True)
class SamplingConfig:
    """How self-edits are sampled."""

    temperature: float = 0.7
    """0 means greedy decoding."""
    top_p: float = 0.95
    max_new_tokens: int = 384
    batch_size: int = 8
    """Prompts per generate call."""


class LMPolicy:
    """A causal LM that writes self-edits by sampling from its chat template.

    Args:
        model: anything :func:`seal_gym.models.load_model` accepts. Pass the env's ModelBundle to make the
            writer and the updated model one and the same, as in SEAL.
        sampling: decoding settings.
        seed: seeds sampling; each ``act`` call advances it, so a run is reproducible end to end.
    """

    def __init__(self, model: Any = None, sampling: SamplingConfig | None = None, seed: int = 0):
        self.bundle: ModelBundle = load_model(model)
        self.sampling = sampling or SamplingConfig()
        self._seed = seed
        self._calls = 0

    @torch.no_grad()
    def act(self, observations: Sequence[str]) -> list[str]:
        tok, model, cfg = self.bundle.tokenizer, self.bundle.model, self.sampling
        prompts = [self.bundle.chat_prompt(obs) for obs in observations]
        outputs: list[str] = []
        was_training, padding_side = model.training, tok.padding_side
        model.eval()
        tok.padding_side = "left"  # generation continues after the prompt: pad on the left
        with torch.random.fork_rng(devices=[self.bundle.device] if self.bundle.device.type == "cuda" else []):
            torch.manual_seed(self._seed * 100_003 + self._calls)
            self._calls += 1
            for start in range(0, len(prompts), cfg.batch_size):
                batch = tok(prompts[start : start + cfg.batch_size], return_tensors="pt", padding=True,
                            add_special_tokens=False).to(self.bundle.device)
                sample = cfg.temperature > 0
                generated = model.generate(
                    **batch,
                    max_new_tokens=cfg.max_new_tokens,
                    do_sample=sample,
                    temperature=cfg.temperature if sample else None,
                    top_p=cfg.top_p if sample else None,
                    top_k=None,
                    pad_token_id=tok.pad_token_id,
                )
                new_tokens = generated[:, batch["input_ids"].shape[1] :]
                outputs.extend(t.strip() for t in tok.batch_decode(new_tokens, skip_special_tokens=True))
        model.train(was_training)
        tok.padding_side = padding_side  # the tokenizer may be shared with an env or a trainer
        return outputs
