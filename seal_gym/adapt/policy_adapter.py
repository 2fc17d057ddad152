"""The policy adapter: the self-edit writer's trainable LoRA, living inside the shared model.

In SEAL's self mode the model that writes self-edits is the model the inner loop updates. An agent trains
the writer; from then on every inner-loop adapter must be trained on top of the *current* writer weights.
:class:`PolicyAdapter` gives the model one trainable float32 LoRA term per target linear layer, installed in
place (each ``nn.Linear`` is wrapped by a :class:`PolicyLoraLinear` that keeps it as ``base``). Both
engines see the policy term as part of the frozen base model: the batched engine stacks each row's own
delta on top of the wrapper, the sequential engine puts its temporary peft adapter on the wrapped linear
and never touches the policy's parameters. So nothing in the inner loop needs to know a policy exists.

- ``disabled()`` gives the reference model (the weights before any policy update since the last merge);
- ``merge()`` folds the policy delta into the base weights through a float32 master copy, so that small
  deltas are not rounded away on a bf16 base, and starts a fresh (no-op) adapter;
- ``restore_pretrained()`` puts the weights as loaded back; model files on disk are never written;
- ``save`` / ``load`` checkpoint the trainable state as safetensors.

Every change this adapter makes to the model bumps its weights version
(:func:`~seal_gym.adapt.versions.weights_version`, which caches key on): see :mod:`seal_gym.adapt.versions`
for the list, and :meth:`PolicyAdapter.updated` for optimizer steps.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import torch
import torch.nn.functional as F

from seal_gym.adapt.engine_base import set_submodule, target_linear_names
from seal_gym.adapt.training import lora_a_init
from seal_gym.adapt.types import LoraSpec
from seal_gym.adapt.versions import bump_weights_version, version_of, weights_version

__all__ = ["PolicyAdapter", "PolicyLoraLinear", "weights_version"]  # weights_version: its old home, still imported

ATTRIBUTE = "seal_gym_policy_adapter"


class PolicyLoraLinear(torch.nn.Module):
    """A frozen ``nn.Linear`` (``base``) plus the policy's float32 LoRA term ``scaling * B (A x)``."""

    def __init__(self, base: torch.nn.Linear, rank: int, scaling: float, dropout: float) -> None:
        super().__init__()
        self.base = base
        kwargs = dict(dtype=torch.float32, device=base.weight.device)
        self.policy_a = torch.nn.Parameter(torch.zeros(rank, base.in_features, **kwargs))
        self.policy_b = torch.nn.Parameter(torch.zeros(base.out_features, rank, **kwargs))
        self.scaling, self.dropout = scaling, dropout
        self.enabled = True

    @property
    def weight(self) -> torch.Tensor:
        return self.base.weight

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def delta_weight(self) -> torch.Tensor:
        """The policy's update of ``base.weight`` as one float32 matrix ``[out, in]``."""
        return (self.policy_b @ self.policy_a) * self.scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        if not self.enabled:
            return out
        # The LoRA term runs in float32 like the inner loop's adapters, then joins the base dtype.
        h = x.to(torch.float32)
        if self.dropout and self.training:
            h = F.dropout(h, self.dropout)
        return out + (F.linear(F.linear(h, self.policy_a), self.policy_b) * self.scaling).to(out.dtype)


class PolicyAdapter:
    """Install a trainable LoRA policy adapter into ``model`` (in place; one per model).

    The base model's own parameters are frozen (``requires_grad=False``): only the adapter trains.

    Args:
        model: a Hugging Face causal LM, shared with the env's inner loop.
        lora: adapter shape (SEAL's ReST-EM on SQuAD: rank 64, alpha 128 on all projections).
        seed: seeds the ``A`` initialisation (``B`` starts at zero, so a new adapter changes nothing).

    Raises:
        ValueError: if ``model`` already has a policy adapter (use :meth:`of`).
    """

    def __init__(self, model: torch.nn.Module, lora: LoraSpec | None = None, seed: int = 0) -> None:
        if getattr(model, ATTRIBUTE, None) is not None:
            raise ValueError("this model has a policy adapter already; get it with PolicyAdapter.of(model)")
        self.model, self.lora, self.seed = model, lora or LoraSpec(rank=64, alpha=128.0), seed
        self.merges = 0
        for p in model.parameters():
            p.requires_grad_(False)
        self.layers: dict[str, PolicyLoraLinear] = {}
        for name in target_linear_names(model, self.lora):
            base = model.get_submodule(name)
            if not isinstance(base, torch.nn.Linear):
                raise ValueError(f"{name} is wrapped already ({type(base).__name__}); a policy adapter needs plain linears")
            layer = PolicyLoraLinear(base, self.lora.rank, self.lora.scaling, self.lora.dropout)
            set_submodule(model, name, layer)
            self.layers[name] = layer
        self._reset_lora()
        bump_weights_version(model)  # parameters came: a replica of the model must be rebuilt
        version_of(model).watch(self._named_parameters())  # the safety net for optimizers that never call updated()
        # Weights as loaded, and float32 masters that merges accumulate into; both made on first merge.
        self._pretrained: dict[str, torch.Tensor] = {}
        self._masters: dict[str, torch.Tensor] = {}
        object.__setattr__(model, ATTRIBUTE, self)  # a plain attribute: not a submodule, not in state_dict

    @staticmethod
    def of(model: torch.nn.Module) -> "PolicyAdapter | None":
        """The policy adapter installed in ``model``, or ``None``."""
        return getattr(model, ATTRIBUTE, None)

    def parameters(self) -> list[torch.nn.Parameter]:
        """The trainable parameters (``A`` and ``B`` of every layer), in a fixed order."""
        return [p for layer in self.layers.values() for p in (layer.policy_a, layer.policy_b)]

    def updated(self) -> None:
        """Say that :meth:`parameters` were updated in place (call it after every optimizer step): bumps the
        model's weights version, so caches keyed on it see the new policy."""
        bump_weights_version(self.model, self._named_parameters())

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def state_dict(self) -> dict[str, torch.Tensor]:
        """``{"<layer>.policy_a": A [r, in], "<layer>.policy_b": B [out, r]}``, float32 copies on the CPU."""
        return {f"{name}.{kind}": getattr(layer, kind).detach().cpu().clone()
                for name, layer in self.layers.items() for kind in ("policy_a", "policy_b")}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Copy a :meth:`state_dict` in (in place, so caches keyed on :func:`weights_version` see it)."""
        expected = {f"{name}.{kind}" for name in self.layers for kind in ("policy_a", "policy_b")}
        if set(state) != expected:
            missing, extra = sorted(expected - set(state))[:3], sorted(set(state) - expected)[:3]
            raise ValueError(f"policy adapter state does not match this adapter (missing {missing}, unexpected {extra})")
        for key, value in state.items():
            name, kind = key.rsplit(".", 1)
            target = getattr(self.layers[name], kind)
            if target.shape != value.shape:
                raise ValueError(f"{key}: shape {tuple(value.shape)} where this adapter has {tuple(target.shape)}")
            target.copy_(value)
        bump_weights_version(self.model, state)

    def plain_state_dict(self) -> dict[str, torch.Tensor]:
        """The model's state dict as the model without this adapter names it (each wrapped linear's base
        weights under the linear's own name; ``A`` and ``B`` left out), CPU copies: what rebuilds the plain
        model elsewhere, before an adapter is installed there again."""
        state = {key: value.detach().to("cpu", copy=True) for key, value in self.model.state_dict().items()}
        for name in self.layers:
            for kind in ("policy_a", "policy_b"):
                del state[f"{name}.{kind}"]
            for key in [k for k in state if k.startswith(f"{name}.base.")]:
                state[f"{name}.{key.removeprefix(f'{name}.base.')}"] = state.pop(key)
        return state

    def save(self, path: str | Path) -> None:
        """Write the trainable state to a safetensors file."""
        from safetensors.torch import save_file

        save_file(self.state_dict(), str(path))

    def load(self, path: str | Path) -> None:
        """Read a file written by :meth:`save`."""
        from safetensors.torch import load_file

        self.load_state_dict(load_file(str(path)))

    @contextlib.contextmanager
    def disabled(self) -> Iterator[None]:
        """Within the block the model computes without the policy term: the reference model."""
        previous = {name: layer.enabled for name, layer in self.layers.items()}
        for layer in self.layers.values():
            layer.enabled = False
        bump_weights_version(self.model, ())  # no parameter changed, but what the model computes did
        try:
            yield
        finally:
            for name, layer in self.layers.items():
                layer.enabled = previous[name]
            bump_weights_version(self.model, ())

    @torch.no_grad()
    def merge(self) -> None:
        """Fold the policy delta into the base weights and start a fresh adapter (a no-op until trained).

        The sum is kept in a float32 master per weight, and the base weight (bf16 on a GPU) is rounded from
        it: merging many small deltas into bf16 directly would round most of them away.
        """
        for name, layer in self.layers.items():
            weight = layer.base.weight
            if name not in self._masters:
                self._pretrained[name] = weight.detach().to("cpu", copy=True)
                self._masters[name] = weight.detach().to(torch.float32, copy=True)
            self._masters[name].add_(layer.delta_weight())
            weight.copy_(self._masters[name])
        self.merges += 1
        self._reset_lora()
        bump_weights_version(self.model, [f"{name}.base.weight" for name in self.layers] + [*self._named_parameters()])

    @torch.no_grad()
    def restore_pretrained(self) -> None:
        """Put the weights as loaded back (undo every merge) and zero the adapter."""
        for name, original in self._pretrained.items():
            self.layers[name].base.weight.copy_(original)
        self._pretrained.clear()
        self._masters.clear()
        self.merges = 0
        self._reset_lora()
        bump_weights_version(self.model, [f"{name}.base.weight" for name in self.layers] + [*self._named_parameters()])

    def remove(self) -> None:
        """Take the adapter out of the model (unmerged): the original linear layers go back in place."""
        for name, layer in self.layers.items():
            set_submodule(self.model, name, layer.base)
        self.layers.clear()
        object.__setattr__(self.model, ATTRIBUTE, None)
        version_of(self.model).watch({})
        bump_weights_version(self.model)  # parameters went

    def _named_parameters(self) -> dict[str, torch.nn.Parameter]:
        """The trainable parameters under their names in the model."""
        return {f"{name}.{kind}": getattr(layer, kind) for name, layer in self.layers.items()
                for kind in ("policy_a", "policy_b")}

    @torch.no_grad()
    def _reset_lora(self) -> None:
        # A fresh A per merge (seeded by the merge count, so a resumed run re-creates it), and B = 0.
        for index, layer in enumerate(self.layers.values()):
            a = lora_a_init(self.seed * 7919 + self.merges, index, self.lora.rank, layer.in_features)
            layer.policy_a.copy_(a)
            layer.policy_b.zero_()
