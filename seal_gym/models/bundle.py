"""What a loaded model is: a causal LM, its tokenizer and a name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class ModelBundle:
    """A causal LM, its tokenizer and a name for logs."""

    model: Any
    tokenizer: Any
    name: str

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def __repr__(self) -> str:
        # One line: Gymnasium puts the kwargs' repr into its errors, and a model's own repr runs to pages.
        first = next(self.model.parameters(), None)
        params = sum(p.numel() for p in self.model.parameters())
        where = "no parameters" if first is None else f"{str(first.dtype).removeprefix('torch.')} on {first.device}"
        return f"ModelBundle(name={self.name!r}, {params / 1e6:.1f}M parameters, {where})"

    def chat_prompt(self, user_message: str, system: str | None = None) -> str:
        """``user_message`` wrapped in the model's chat template, ready for generation."""
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": user_message}
        ]
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return f"{user_message}\n"
