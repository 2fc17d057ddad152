"""Stacked LoRA: K independent adapters over one frozen base model, each batch row routed to its own.

:class:`StackedLora` holds the weights of K adapters in two flat float32 buffers of shape ``[K, D]`` (one
row per adapter: every module's ``A`` as ``[in, r]`` and ``B`` as ``[r, out]``), plus a gradient buffer of
the same shape that autograd accumulates into. Per-adapter gradient norms, clipping and AdamW are
therefore a handful of whole-buffer operations instead of one per module and adapter.

While installed, every targeted ``nn.Linear`` is temporarily replaced by a :class:`StackedLoraLinear`
that computes ``base(x) + scale_k * (x @ A_k) @ B_k`` for each row ``x`` of adapter ``k`` with two batched
matmuls. Adapters of different ranks or target modules share one stack: ranks are zero-padded to the
largest, and an adapter that does not target a module has zero ``A`` and ``B`` there. Zero slots receive
exactly zero gradient (``dA = x^T dy B^T`` and ``dB = (x A)^T dy``), so they stay zero under AdamW and do
not change the adapter's gradient norm.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from seal_gym.adapt.engine_base import linear_of, set_submodule, target_linear_names
from seal_gym.adapt.training import lora_a_init
from seal_gym.adapt.types import LoraSpec


@dataclass
class Routing:
    """Which adapter each row of the current batch uses; shared by all layers of one stack.

    Rows are regrouped adapter-major into ``num_adapters`` (from ``first`` on) equal slots of
    ``rows_per_adapter`` rows so that one ``bmm`` serves every adapter. ``slots`` (row index per slot, ``num_rows`` = empty slot) and
    ``row_slot`` (slot of each row) are ``None`` when the rows already are in that layout.
    """

    first: int = 0
    num_adapters: int = 0
    rows_per_adapter: int = 1
    num_rows: int = 0
    slots: torch.Tensor | None = None
    row_slot: torch.Tensor | None = None
    dropout: torch.Tensor | None = None


class StackedLoraLinear(torch.nn.Module):
    """Drop-in for a frozen layer (an ``nn.Linear``, or a policy adapter's layer around one) that adds each
    row's own LoRA update on top of whatever ``base`` computes."""

    def __init__(self, base: torch.nn.Linear, a: torch.Tensor, b: torch.Tensor, scaling: torch.Tensor,
                 routing: Routing) -> None:
        super().__init__()
        self.base = base
        self.a, self.b, self.scaling, self.routing = a, b, scaling, routing

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        route = self.routing
        n, lo = route.num_adapters, route.first
        if x.shape[0] != route.num_rows:
            raise RuntimeError(f"batch has {x.shape[0]} rows but {route.num_rows} were routed; call route() first")
        # LoRA runs in the buffers' float32, like peft's upcast adapters, then joins the base dtype.
        h = x.to(self.a.dtype).reshape(route.num_rows, -1)
        if route.slots is not None:
            h = torch.cat([h, h.new_zeros(1, h.shape[1])]).index_select(0, route.slots)
        h = h.reshape(n, -1, x.shape[-1])
        if route.dropout is not None and self.training:
            keep = 1.0 - route.dropout[lo : lo + n, None, None]
            h = h * (torch.rand_like(h) < keep) / keep
        a, b, scaling = self.a[lo : lo + n], self.b[lo : lo + n], self.scaling[lo : lo + n, None, None]
        delta = torch.bmm(torch.bmm(h, a), b) * scaling
        delta = delta.reshape(n * route.rows_per_adapter, -1)
        if route.row_slot is not None:
            delta = delta.index_select(0, route.row_slot)
        return out + delta.reshape(out.shape).to(out.dtype)


class StackedLora:
    """Weights, gradients and routing of K adapters for ``model``, freshly initialised.

    Adapter ``k`` gets ``training.lora_a_init(seeds[k], i, rank, in_features)`` as ``A`` of the ``i``-th
    module of ``engine_base.target_linear_names(model, specs[k])`` and ``B = 0``, exactly like the sequential
    engine, so each starts where it would start alone.

    Args:
        model: the frozen base model (read only).
        specs: one :class:`LoraSpec` per adapter.
        seeds: one initialisation seed per adapter.
    """

    def __init__(self, model: torch.nn.Module, specs: Sequence[LoraSpec], seeds: Sequence[int]) -> None:
        device = next(model.parameters()).device
        per_adapter = [target_linear_names(model, spec) for spec in specs]
        wanted = set().union(*per_adapter)
        self.names = [name for name, _ in model.named_modules() if name in wanted]
        self.specs = list(specs)
        rank = max(spec.rank for spec in specs)
        shapes = {name: linear_of(model.get_submodule(name)).weight.shape for name in self.names}  # (out, in)
        offsets, total = {}, 0
        for name in self.names:
            out_f, in_f = shapes[name]
            offsets[name] = (total, total + in_f * rank, total + (in_f + out_f) * rank)
            total += (in_f + out_f) * rank
        k = len(specs)
        weights = torch.zeros(k, total, dtype=torch.float32)
        for row, (spec, seed, names) in enumerate(zip(specs, seeds, per_adapter)):
            for index, name in enumerate(names):
                start, _, _ = offsets[name]
                in_f = shapes[name][1]
                a = weights[row, start : start + in_f * rank].view(in_f, rank)
                a[:, : spec.rank] = lora_a_init(seed, index, spec.rank, in_f).T
        self.weights = weights.to(device)
        self.grads = torch.zeros_like(self.weights)
        self.scaling = torch.tensor([spec.scaling for spec in specs], dtype=torch.float32, device=device)
        self.routing = Routing()
        if any(spec.dropout > 0 for spec in specs):
            self.routing.dropout = torch.tensor([s.dropout for s in specs], dtype=torch.float32, device=device)
        self.rank = rank
        self.layers: dict[str, StackedLoraLinear] = {}
        for name in self.names:
            start, mid, end = offsets[name]
            out_f, in_f = shapes[name]
            a = self._leaf(start, mid, (k, in_f, rank))
            b = self._leaf(mid, end, (k, rank, out_f))
            self.layers[name] = StackedLoraLinear(model.get_submodule(name), a, b, self.scaling, self.routing)

    def _leaf(self, start: int, end: int, shape: tuple[int, ...]) -> torch.Tensor:
        # A leaf parameter that is a view of the flat buffer; its .grad is the matching view of the flat
        # gradient buffer, which autograd then accumulates into in place.
        leaf = self.weights[:, start:end].view(shape).requires_grad_(True)
        leaf.grad = self.grads[:, start:end].view(shape)
        return leaf

    def route(self, adapter_of_row: Sequence[int]) -> None:
        """Set the adapter of every row of the next forward passes (indices into this stack)."""
        route = self.routing
        lo = min(adapter_of_row)
        n = max(adapter_of_row) + 1 - lo
        counts = [0] * n
        for k in adapter_of_row:
            counts[k - lo] += 1
        m = max(counts)
        route.first, route.num_adapters, route.rows_per_adapter = lo, n, m
        route.num_rows = len(adapter_of_row)
        if list(adapter_of_row) == [lo + k for k in range(n) for _ in range(m)]:
            route.slots = route.row_slot = None
            return
        slots, row_slot, filled = [len(adapter_of_row)] * (n * m), [0] * len(adapter_of_row), [0] * n
        for row, k in enumerate(adapter_of_row):
            k -= lo
            slot = k * m + filled[k]
            filled[k] += 1
            slots[slot], row_slot[row] = row, slot
        device = self.weights.device
        route.slots = torch.tensor(slots, dtype=torch.long, device=device)
        route.row_slot = torch.tensor(row_slot, dtype=torch.long, device=device)

    @contextlib.contextmanager
    def installed(self, model: torch.nn.Module) -> Iterator[None]:
        """Swap the stacked layers in and freeze the base; put the original layers back on exit."""
        requires_grad = [(p, p.requires_grad) for p in model.parameters()]
        for p, _ in requires_grad:
            p.requires_grad_(False)
        try:
            for name, layer in self.layers.items():
                set_submodule(model, name, layer)
            with warnings.catch_warnings():
                # Our grads are strided views of one flat buffer by design; torch warns about the layout.
                warnings.filterwarnings("ignore", message="grad and param do not obey the gradient layout")
                yield
        finally:
            for name, layer in self.layers.items():
                set_submodule(model, name, layer.base)
            for p, flag in requires_grad:
                p.requires_grad_(flag)

    def adapter_state(self, k: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Adapter ``k``'s trained weights in peft's layout: ``{module name: (A [r, in], B [out, r])}``."""
        spec = self.specs[k]
        state = {}
        for name in self.names:
            if name.rsplit(".", 1)[-1] in spec.target_modules:
                layer = self.layers[name]
                a = layer.a[k, :, : spec.rank].detach().T.cpu().clone()
                b = layer.b[k, : spec.rank, :].detach().T.cpu().clone()
                state[name] = (a, b)
        return state
