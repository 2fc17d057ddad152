"""Restricting a policy to a finite set of self-edits (constrained decoding over a token trie).

A small model asked for structured output (e.g. a JSON training recipe) mostly writes prose. A policy whose
``SamplingConfig.choices`` names a set of a domain (:attr:`~seal_gym.domain_spec.DomainSpec.choices`) can only
write members of that set: at every step the next token is drawn from the model's distribution renormalised
over the tokens that keep the text on a path to a member. Scoring applies the same
restriction, so the log-probs that agents train on (GRPO's ratios, PPO's, the KL and the entropy) are those of
the distribution that was sampled from: sum over the whole set of ``exp(log-prob)`` is 1.

The texts of a set are tokenized one by one (each has its canonical tokenization) and stored as token paths
ending in the end-of-sequence token. Positions where only one token is allowed (the JSON between two choices)
get log-prob 0 and entropy 0: only the decisions carry gradient.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from seal_gym.registration import choice_set


class ChoiceConstraint:
    """The token trie of a finite set of texts.

    Args:
        texts: the allowed completions (each must survive a tokenize/decode round trip unchanged).
        tokenizer: the policy's tokenizer.

    Raises:
        ValueError: an empty set, a text that does not round-trip, or a tokenizer without an end token.

    >>> from seal_gym.models import byte_level_tokenizer
    >>> tokenizer = byte_level_tokenizer()
    >>> trie = ChoiceConstraint(["ab", "ac"], tokenizer)
    >>> a, b, c = (tokenizer(x, add_special_tokens=False)["input_ids"][0] for x in "abc")
    >>> trie.allowed([]) == [a], trie.allowed([a]) == [b, c], trie.allowed([a, b]) == [tokenizer.eos_token_id]
    (True, True, True)
    """

    def __init__(self, texts: Sequence[str], tokenizer) -> None:
        if not texts:
            raise ValueError("a choice set needs at least one text")
        if tokenizer.eos_token_id is None:
            raise ValueError("constrained decoding needs a tokenizer with an end-of-sequence token")
        self.eos = int(tokenizer.eos_token_id)
        self._children: dict[tuple[int, ...], set[int]] = {}
        for text in texts:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            if tokenizer.decode(ids, skip_special_tokens=True).strip() != text.strip():
                raise ValueError(f"{text[:60]!r} does not survive tokenize/decode unchanged; it cannot be a choice")
            path = (*ids, self.eos)
            for t in range(len(path)):
                self._children.setdefault(path[:t], set()).add(path[t])
        self.longest = max(len(path) for path in self._children) + 1
        """Tokens in the longest member, its end token included: the least ``max_new_tokens`` that fits."""

    def allowed(self, prefix: Sequence[int]) -> list[int]:
        """Tokens that may follow ``prefix`` (completion tokens so far); after a finished text, the end token
        (a batch keeps stepping rows that are done)."""
        children = self._children.get(tuple(prefix))
        return sorted(children) if children else [self.eos]

    def mask(self, prefixes: Sequence[Sequence[int]], vocab_size: int, device: torch.device) -> torch.Tensor:
        """``[len(prefixes), vocab_size]``: True where a token may follow each prefix."""
        mask = torch.zeros(len(prefixes), vocab_size, dtype=torch.bool)
        for row, prefix in enumerate(prefixes):
            mask[row, self.allowed(prefix)] = True
        return mask.to(device)

    def prefix_allowed_tokens_fn(self, prompt_width: int) -> Callable[[int, torch.Tensor], list[int]]:
        """The callback ``generate(prefix_allowed_tokens_fn=...)`` takes, for prompts padded to ``prompt_width``."""
        return lambda batch_id, input_ids: self.allowed(input_ids[prompt_width:].tolist())


def choice_constraint(name: str, tokenizer) -> ChoiceConstraint:
    """The constraint for the choice set ``name`` (one a known domain declares).

    Raises:
        ValueError: an unknown name.
    """
    return ChoiceConstraint(choice_set(name), tokenizer)
