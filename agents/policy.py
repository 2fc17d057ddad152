"""A trainable language-model policy that writes self-edits (:class:`LMPolicy`) and how it samples.

The protocols agents depend on live in :mod:`seal_gym.agents.protocols`; they are re-exported here, so
``from seal_gym.agents.policy import TrainablePolicy`` keeps working.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from seal_gym.adapt import LoraSpec, PolicyAdapter
from seal_gym.agents.choices import ChoiceConstraint, choice_constraint
from seal_gym.agents.protocols import Completion, TextPolicy, TokenScores, TrainablePolicy
from seal_gym.models import ModelBundle, load_model
from seal_gym.sampling import SamplingConfig

__all__ = ["Completion", "LMPolicy", "SamplingConfig", "TextPolicy", "TokenScores", "TrainablePolicy", "lora_from_json"]


class LMPolicy:
    """A causal LM that writes self-edits, trainable through a LoRA policy adapter.

    In self mode (SEAL's setting) pass the env's :class:`~seal_gym.models.ModelBundle`: the writer and the
    model the inner loop updates are one and the same, and every inner-loop adapter trains on top of the
    current policy weights. The policy adapter (:class:`~seal_gym.adapt.PolicyAdapter`) is installed on
    first use of a training method, so a policy that only acts leaves the model untouched.

    Args:
        model: anything :func:`seal_gym.models.load_model` accepts.
        sampling: decoding settings.
        lora: the policy adapter's shape (SEAL's ReST-EM on SQuAD: rank 64, alpha 128, all projections).
        seed: seeds sampling; each ``sample`` call advances it, so a run is reproducible end to end.
    """

    def __init__(self, model: Any = None, sampling: SamplingConfig | None = None, lora: LoraSpec | None = None,
                 seed: int = 0):
        self.bundle: ModelBundle = load_model(model)
        self.sampling = sampling or SamplingConfig()
        self.lora = lora or LoraSpec(rank=64, alpha=128.0)
        self.seed = seed
        self.calls = 0
        self._merged: list[dict[str, torch.Tensor]] = []  # adapter states folded in so far, for checkpoints
        self.constraint: ChoiceConstraint | None = (
            choice_constraint(self.sampling.choices, self.bundle.tokenizer) if self.sampling.choices else None)
        """What sampling and scoring are restricted to (``sampling.choices``), if anything."""
        if self.constraint is not None and self.sampling.max_new_tokens < self.constraint.longest:
            raise ValueError(f"max_new_tokens={self.sampling.max_new_tokens} cuts off members of the choice set "
                             f"{self.sampling.choices!r} (the longest is {self.constraint.longest} tokens with this "
                             "tokenizer): raise it, or every cut one scores as an invalid self-edit")

    # --- the policy adapter -------------------------------------------------------------------------------
    @property
    def adapter(self) -> PolicyAdapter:
        """The policy adapter in the model (installed on first access)."""
        adapter = PolicyAdapter.of(self.bundle.model)
        if adapter is None:
            adapter = PolicyAdapter(self.bundle.model, self.lora, seed=self.seed)
        return adapter

    def parameters(self) -> list[torch.nn.Parameter]:
        return self.adapter.parameters()

    def updated(self) -> None:
        self.adapter.updated()

    def reference(self) -> contextlib.AbstractContextManager:
        return self.adapter.disabled()

    def end_round(self) -> None:
        self._merged.append(self.adapter.state_dict())
        self.adapter.merge()

    # --- acting and sampling --------------------------------------------------------------------------------
    def act(self, observations: Sequence[str]) -> list[str]:
        return [c.text for c in self.sample(observations, 1, logprobs=False)]

    def prompt_ids(self, prompt: str) -> list[int]:
        return self.bundle.tokenizer(self.bundle.chat_prompt(prompt), add_special_tokens=False)["input_ids"]

    def encode(self, prompt: str, text: str) -> Completion:
        tok = self.bundle.tokenizer
        ids = tok(text, add_special_tokens=False)["input_ids"]
        ids = ids + ([tok.eos_token_id] if tok.eos_token_id is not None else [])
        return Completion(prompt, text, self.prompt_ids(prompt), ids)

    @torch.no_grad()
    def sample(self, prompts: Sequence[str], n: int, greedy: bool = False, logprobs: bool = True) -> list[Completion]:
        tok, model, cfg = self.bundle.tokenizer, self.bundle.model, self.sampling
        greedy = greedy or cfg.temperature <= 0
        out: list[Completion] = []
        with _eval_mode(model), _left_padding(tok), _seeded(self.bundle.device, self.seed * 100_003 + self.calls):
            self.calls += 1
            for start in range(0, len(prompts), cfg.batch_size):
                chunk = list(prompts[start : start + cfg.batch_size])
                ids = [self.prompt_ids(p) for p in chunk]
                batch = tok.pad({"input_ids": ids}, return_tensors="pt").to(self.bundle.device)
                width = batch["input_ids"].shape[1]
                generated = model.generate(
                    **batch, max_new_tokens=cfg.max_new_tokens, do_sample=not greedy,
                    temperature=None if greedy else cfg.temperature, top_p=None if greedy else cfg.top_p, top_k=None,
                    num_return_sequences=n if not greedy else 1, pad_token_id=tok.pad_token_id,
                    prefix_allowed_tokens_fn=self.constraint.prefix_allowed_tokens_fn(width) if self.constraint else None,
                )
                rows = generated[:, width:].tolist()
                if greedy and n > 1:
                    rows = [row for row in rows for _ in range(n)]
                for i, row in enumerate(rows):
                    completion_ids = _cut_at_eos(row, tok.eos_token_id)
                    text = tok.decode(completion_ids, skip_special_tokens=True).strip()
                    out.append(Completion(chunk[i // n], text, ids[i // n], completion_ids))
        if logprobs:
            for completion, row in zip(out, self.logprobs(out)):
                completion.logprobs = row
        return out

    def logprobs(self, completions: Sequence[Completion]) -> list[list[float]]:
        """Per-token log-probs under the current weights, ``score_batch_size`` completions per forward pass."""
        result: list[list[float]] = []
        with torch.no_grad(), _eval_mode(self.bundle.model):
            for start in range(0, len(completions), self.sampling.score_batch_size):
                scores = self.score(completions[start : start + self.sampling.score_batch_size])
                result.extend(row[m].tolist() for row, m in zip(scores.logprobs, scores.mask))
        return result

    # --- scoring ---------------------------------------------------------------------------------------------
    def score(self, completions: Sequence[Completion]) -> TokenScores:
        """Log-probs of each completion's tokens given its prompt, at the sampling temperature.

        Only the completion positions go through the softmax, so memory grows with completion tokens times the
        vocabulary, not with prompt length. A policy with a :attr:`constraint` scores under the restricted
        distribution it samples from (tokens off the allowed paths have probability 0).
        """
        if not completions:
            raise ValueError("score() needs at least one completion")
        device, pad = self.bundle.device, self.bundle.tokenizer.pad_token_id or 0
        rows = [c.prompt_ids + c.completion_ids for c in completions]
        width, longest = max(map(len, rows)), max(len(c.completion_ids) for c in completions)
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        attention = torch.zeros_like(input_ids)
        for b, row in enumerate(rows):
            input_ids[b, : len(row)] = torch.tensor(row)
            attention[b, : len(row)] = 1
        output = self.bundle.model(input_ids=input_ids.to(device), attention_mask=attention.to(device),
                                   output_hidden_states=True, logits_to_keep=0)
        batch_index, position, targets, slot = [], [], [], []
        for b, c in enumerate(completions):
            start = len(c.prompt_ids)
            for t, token in enumerate(c.completion_ids):
                batch_index.append(b), position.append(start + t - 1), targets.append(token), slot.append(b * longest + t)
        temperature = self.sampling.temperature if self.sampling.temperature > 0 else 1.0
        logits = output.logits[torch.tensor(batch_index, device=device), torch.tensor(position, device=device)].float()
        logits = logits / temperature
        if self.constraint is not None:
            prefixes = [c.completion_ids[:t] for c in completions for t in range(len(c.completion_ids))]
            allowed = self.constraint.mask(prefixes, logits.shape[-1], device)
            logits = logits.masked_fill(~allowed, float("-inf"))
        log_softmax = torch.log_softmax(logits, dim=-1)
        token_logprobs = log_softmax.gather(1, torch.tensor(targets, device=device)[:, None])[:, 0]
        entropy = -(log_softmax.exp() * log_softmax.clamp_min(torch.finfo(log_softmax.dtype).min)).sum(-1).detach()
        logprobs = torch.zeros(len(rows) * longest, device=device).index_put((torch.tensor(slot, device=device),),
                                                                              token_logprobs).view(len(rows), longest)
        entropies = torch.zeros(len(rows) * longest, device=device)
        entropies[torch.tensor(slot, device=device)] = entropy
        mask = torch.zeros(len(rows) * longest, dtype=torch.bool, device=device)
        mask[torch.tensor(slot, device=device)] = True
        last_prompt = torch.tensor([len(c.prompt_ids) - 1 for c in completions], device=device)
        hidden = output.hidden_states[-1][torch.arange(len(rows), device=device), last_prompt].float()
        return TokenScores(logprobs, mask.view(len(rows), longest), entropies.view(len(rows), longest), hidden)

    # --- checkpoints -----------------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> None:
        """Write the trainable state: the adapter now, every adapter merged so far, and the sampling position."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file(self.adapter.state_dict(), str(folder / "adapter.safetensors"))
        for i, state in enumerate(self._merged):
            path = folder / f"merged_{i:03d}.safetensors"
            if not path.exists():
                save_file(state, str(path))
        meta = {"model": self.bundle.name, "lora": asdict(self.lora), "seed": self.seed, "calls": self.calls,
                "merges": len(self._merged), "sampling": asdict(self.sampling)}
        (folder / "policy.json").write_text(json.dumps(meta, indent=2))

    def load(self, folder: str | Path) -> None:
        """Read a folder written by :meth:`save`: re-applies its merges in order, then its current adapter."""
        from safetensors.torch import load_file

        folder = Path(folder)
        meta_path = folder / "policy.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{folder} holds no policy checkpoint (no policy.json)")
        meta = json.loads(meta_path.read_text())
        if lora_from_json(meta["lora"]) != self.lora:
            raise ValueError(f"the checkpoint's policy LoRA {meta['lora']} differs from this policy's {asdict(self.lora)}")
        adapter = self.adapter
        adapter.restore_pretrained()
        self._merged = []
        for i in range(meta["merges"]):
            adapter.load_state_dict(load_file(str(folder / f"merged_{i:03d}.safetensors")))
            self.end_round()
        adapter.load_state_dict(load_file(str(folder / "adapter.safetensors")))
        self.calls = meta["calls"]


def lora_from_json(fields: dict) -> LoraSpec:
    """The :class:`LoraSpec` that ``dataclasses.asdict`` wrote to JSON (lists back to tuples)."""
    return LoraSpec(**{**fields, "target_modules": tuple(fields["target_modules"])})


def _cut_at_eos(ids: list[int], eos: int | None) -> list[int]:
    """Tokens up to and including the first end-of-sequence token (the rest is padding)."""
    if eos is not None and eos in ids:
        return ids[: ids.index(eos) + 1]
    return ids


@contextlib.contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@contextlib.contextmanager
def _left_padding(tokenizer) -> Iterator[None]:
    # Generation continues after the prompt, so prompts are padded on the left; the tokenizer may be
    # shared with an env or a trainer, so its setting is put back.
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        yield
    finally:
        tokenizer.padding_side = side


@contextlib.contextmanager
def _seeded(device: torch.device, seed: int) -> Iterator[None]:
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield
