"""Updates that stay: train a LoRA on a request's sequences and merge it into the model's weights in place.

SEAL's continual-learning experiment applies one self-edit after another, each update folded into the
weights before the next. :class:`PersistentUpdates` does that with the sequential engine's training
(:func:`~seal_gym.adapt.sequential.train_lora`: same tokens, data order, seeded LoRA initialisation,
schedule), so an update here learns exactly what the engine's temporary adapter learns. Then
``scaling * B @ A`` is added to each adapted weight, summed in a float32 master per weight (as
:meth:`~seal_gym.adapt.PolicyAdapter.merge` does: on a bf16 base, small deltas merged directly would round
away). :meth:`PersistentUpdates.restore` copies the weights back bit for bit; nothing is written to disk.

Every merge, ``base_weights()`` (entering and leaving) and ``restore()`` bump the model's weights version
(:func:`~seal_gym.adapt.versions.bump_weights_version`), so caches keyed on it (an inner loop's baseline
answers) follow the updated model.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Iterator

import torch

from seal_gym.adapt.sequential import temporary_lora, train_lora
from seal_gym.adapt.types import AdaptRequest
from seal_gym.adapt.versions import bump_weights_version


@dataclass
class UpdateOutcome:
    """What one merged update did."""

    losses: list[float]
    """Mean training loss of every optimizer step, in order."""
    num_train_tokens: int
    num_optimizer_steps: int
    seconds: float

    @property
    def final_loss(self) -> float | None:
        return self.losses[-1] if self.losses else None


class PersistentUpdates:
    """Merge trained LoRA updates into ``model`` one after another; :meth:`restore` undoes them all.

    Use it as a context manager so the weights come back even when a step fails::

        with PersistentUpdates(bundle.model, bundle.tokenizer) as updates:
            updates.apply(request)      # request.queries are ignored: ask the model afterwards

    Args:
        model: a Hugging Face causal LM (a policy adapter inside it stays as it is: updates go to the
            linear layers it wraps, like the engines' adapters).
        tokenizer: its tokenizer.
    """

    def __init__(self, model: torch.nn.Module, tokenizer) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.num_updates = 0
        self._originals: dict[str, torch.Tensor] = {}  # as found before the first update, on the CPU
        self._masters: dict[str, torch.Tensor] = {}  # float32 sums of the original and every delta

    def apply(self, request: AdaptRequest) -> UpdateOutcome:
        """Train a fresh LoRA on ``request.sequences`` (with ``request.train`` / ``request.lora``) and merge it."""
        start = time.perf_counter()
        was_training = self.model.training
        with temporary_lora(self.model, request.lora, request.train.seed) as lora_model:
            losses, num_tokens, num_steps = train_lora(lora_model, self.tokenizer, request)
            tensors = lora_tensors(lora_model)
        self.merge(tensors, request.lora.scaling)
        self.model.train(was_training)
        return UpdateOutcome(losses, num_tokens, num_steps, time.perf_counter() - start)

    @torch.no_grad()
    def merge(self, tensors: dict[str, torch.Tensor], scaling: float) -> None:
        """Add ``scaling * B @ A`` of a trained LoRA (:func:`lora_tensors`, or read back from disk) to each
        weight it adapted, through the float32 masters."""
        for key in sorted({k.rsplit(".", 1)[0] for k in tensors if k.endswith(".lora_A")}):
            weight = self.model.get_submodule(key).weight
            if key not in self._originals:
                self._originals[key] = weight.detach().to("cpu", copy=True)
                self._masters[key] = weight.detach().to(torch.float32, copy=True)
            a = tensors[f"{key}.lora_A"].to(weight.device, torch.float32)
            b = tensors[f"{key}.lora_B"].to(weight.device, torch.float32)
            self._masters[key].add_((b @ a) * scaling)
            weight.copy_(self._masters[key])
        self.num_updates += 1
        bump_weights_version(self.model, self._weight_names())

    @contextlib.contextmanager
    def base_weights(self) -> Iterator[None]:
        """Within the block the model has its weights from before the first update; the updates come back after."""
        with torch.no_grad():
            for key, original in self._originals.items():
                self.model.get_submodule(key).weight.copy_(original)
        bump_weights_version(self.model, self._weight_names())
        try:
            yield
        finally:
            with torch.no_grad():
                for key, master in self._masters.items():
                    self.model.get_submodule(key).weight.copy_(master)
            bump_weights_version(self.model, self._weight_names())

    @torch.no_grad()
    def restore(self) -> None:
        """Put every updated weight back as it was before the first update (bit-identical)."""
        for key, original in self._originals.items():
            self.model.get_submodule(key).weight.copy_(original)
        bump_weights_version(self.model, self._weight_names())
        self._originals.clear()
        self._masters.clear()
        self.num_updates = 0

    def _weight_names(self) -> list[str]:
        """The model's names of the weights updates were merged into."""
        return [f"{key}.weight" for key in self._originals]

    def __enter__(self) -> "PersistentUpdates":
        return self

    def __exit__(self, *exc_info) -> None:
        self.restore()


def lora_tensors(lora_model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A trained peft LoRA's A and B of every adapted layer (``"{layer}.lora_A"`` / ``".lora_B"``, keyed by the
    base layer's path in the model), as float32 copies on the CPU."""
    tensors = {}
    for name, module in lora_model.named_modules():
        lora_a, lora_b = getattr(module, "lora_A", None), getattr(module, "lora_B", None)
        if lora_a is None or "default" not in lora_a:
            continue
        key = name.removeprefix("base_model.model.")
        tensors[f"{key}.lora_A"] = lora_a["default"].weight.detach().to("cpu", torch.float32, copy=True)
        tensors[f"{key}.lora_B"] = lora_b["default"].weight.detach().to("cpu", torch.float32, copy=True)
    return tensors
