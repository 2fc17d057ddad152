"""The weights of a knowledge base: the base model plus its accepted adapters, merged in order.

:class:`WeightEditor` is what the updater, the answerer and the evaluation need from the model; two implement it:

- :class:`LoraEditor`, the real one: it trains a LoRA on top of the current weights exactly as the inner
  loop trains its temporary adapters (:func:`~seal_gym.adapt.sequential.train_lora`), answers with that LoRA
  in place (the guard's "after"), saves it as safetensors, and merges accepted ones into the weights in a
  float32 master per weight (through :class:`~seal_gym.adapt.persistent.PersistentUpdates`), so loading the
  adapters of a knowledge base in order gives the weights its updates were trained on, bit for bit.
  :meth:`LoraEditor.restore` gives the base weights back bit for bit.
- :class:`EngineEditor`, over any inner-loop engine (tests use :class:`~seal_gym.testing.ScriptedEngine`):
  "the weights after updates u1..uk" are an adapter trained on all their sequences at once, so a scripted
  engine decides every answer, and with it what the forgetting guard sees.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, Sequence

import torch

from seal_gym.adapt import AdaptRequest, InnerLoopEngine, Query, TrainSequence, greedy_answers
from seal_gym.adapt.persistent import PersistentUpdates, lora_tensors
from seal_gym.adapt.sequential import temporary_lora, train_lora
from seal_gym.memory.store import SavedAdapter


@dataclass
class Trial:
    """An adapter trained on top of the current weights, not merged yet."""

    sequences: tuple[str, ...]
    """What it was trained on."""
    answers: list[str]
    """Its answers to the request's queries (on top of the current weights)."""
    losses: list[float]
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    """``<module>.lora_A`` / ``<module>.lora_B`` weights, on the CPU (empty for an :class:`EngineEditor`)."""
    scaling: float = 1.0


class WeightEditor(Protocol):
    """What a knowledge base needs from its model."""

    def prompt(self, text: str) -> str:
        """``text`` as the model is asked it (in its chat template)."""
        ...

    def load(self, adapters: Sequence[SavedAdapter]) -> None:
        """Make the current weights the base plus these adapters, in order."""
        ...

    def answer(self, queries: Sequence[Query], weights: bool = True) -> list[str]:
        """Greedy answers with the current weights (``weights=False``: with the base model's)."""
        ...

    def trial(self, request: AdaptRequest) -> Trial:
        """Train an adapter on ``request.sequences`` on top of the current weights; answer ``request.queries``."""
        ...

    def save(self, trial: Trial, path: Path) -> None:
        """Write the trial's adapter to ``path`` (safetensors)."""
        ...

    def accept(self, trial: Trial, update_id: str) -> None:
        """Merge the trial's adapter into the current weights."""
        ...


def read_adapter(path: Path) -> tuple[dict[str, torch.Tensor], float]:
    """An adapter file's tensors and scaling."""
    from safetensors import safe_open

    tensors = {}
    with safe_open(str(path), framework="pt") as f:
        scaling = float((f.metadata() or {}).get("scaling", "1.0"))
        for key in f.keys():
            tensors[key] = f.get_tensor(key)
    return tensors, scaling


def write_adapter(path: Path, tensors: dict[str, torch.Tensor], scaling: float) -> None:
    """Write an adapter file whole (a temporary name, then a rename) with the mode of the knowledge base's other
    files (0644 under the usual umask: safetensors alone writes 0600)."""
    import os

    from safetensors.torch import save_file

    scratch = path.with_name(f".{path.name}.tmp")
    # safetensors wants at least one tensor for a well-formed file
    save_file({k: v.contiguous() for k, v in tensors.items()} or {"empty": torch.zeros(1)}, str(scratch),
              metadata={"format": "seal-gym-lora", "scaling": repr(scaling)})
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(scratch, 0o666 & ~umask)
    os.replace(scratch, path)


class LoraEditor:
    """The real model's weights (see the module docstring).

    Args:
        bundle: the loaded model (:func:`seal_gym.models.load_model`); its weights are changed in place
            until :meth:`restore`.
        answer_batch_size: queries per ``generate`` call.
    """

    def __init__(self, bundle, answer_batch_size: int = 32) -> None:
        self.bundle, self.answer_batch_size = bundle, answer_batch_size
        self.loaded: list[str] = []
        """Ids of the updates merged in, in order."""
        self._updates = PersistentUpdates(bundle.model, bundle.tokenizer)

    def prompt(self, text: str) -> str:
        return self.bundle.chat_prompt(text)

    def load(self, adapters: Sequence[SavedAdapter]) -> None:
        if [a.id for a in adapters][: len(self.loaded)] != self.loaded:
            self.restore()
        for adapter in adapters[len(self.loaded):]:  # usually only the newest: earlier ones are merged already
            self._updates.merge(*read_adapter(adapter.path))
            self.loaded.append(adapter.id)

    def answer(self, queries: Sequence[Query], weights: bool = True) -> list[str]:
        with contextlib.nullcontext() if weights else self._updates.base_weights():
            return greedy_answers(self.bundle.model, self.bundle.tokenizer, list(queries), self.answer_batch_size)

    def trial(self, request: AdaptRequest) -> Trial:
        model, was_training = self.bundle.model, self.bundle.model.training
        with temporary_lora(model, request.lora, request.train.seed) as lora_model:
            losses, _, _ = train_lora(lora_model, self.bundle.tokenizer, request)
            lora_model.eval()
            answers = greedy_answers(lora_model, self.bundle.tokenizer, list(request.queries), self.answer_batch_size)
            tensors = lora_tensors(lora_model)
        model.train(was_training)
        return Trial(tuple(s.prompt + s.completion for s in request.sequences), answers, losses, tensors,
                     request.lora.scaling)

    def save(self, trial: Trial, path: Path) -> None:
        write_adapter(path, trial.tensors, trial.scaling)

    def accept(self, trial: Trial, update_id: str) -> None:
        self._updates.merge(trial.tensors, trial.scaling)
        self.loaded.append(update_id)

    def restore(self) -> None:
        """Put the base weights back (bit-identical) and forget every merged update."""
        self._updates.restore()
        self.loaded = []


class EngineEditor:
    """Weights as seen through an inner-loop engine (see the module docstring): for tests and experiments
    whose answers are scripted. Prompts are passed as they are (no chat template)."""

    def __init__(self, engine: InnerLoopEngine) -> None:
        self.engine = engine
        self.loaded: list[str] = []
        self.sequences: list[str] = []
        """Everything the accepted updates trained on, in order."""

    def prompt(self, text: str) -> str:
        return text

    def load(self, adapters: Sequence[SavedAdapter]) -> None:
        self.loaded = [a.id for a in adapters]
        self.sequences = [s for a in adapters for s in a.sequences]

    def answer(self, queries: Sequence[Query], weights: bool = True) -> list[str]:
        if weights and self.sequences:
            request = AdaptRequest(tuple(TrainSequence(s) for s in self.sequences), tuple(queries))
            return self.engine.adapt([request])[0].answers
        return self.engine.answer(list(queries))

    def trial(self, request: AdaptRequest) -> Trial:
        combined = replace(request, sequences=tuple(TrainSequence(s) for s in self.sequences) + request.sequences)
        outcome = self.engine.adapt([combined])[0]
        return Trial(tuple(s.prompt + s.completion for s in request.sequences), outcome.answers, outcome.losses,
                     {}, request.lora.scaling)

    def save(self, trial: Trial, path: Path) -> None:
        write_adapter(path, trial.tensors, trial.scaling)

    def accept(self, trial: Trial, update_id: str) -> None:
        self.loaded.append(update_id)
        self.sequences.extend(trial.sequences)
