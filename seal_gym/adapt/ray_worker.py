"""What a Ray actor holds: a replica of the local model, shipped once as a :class:`ModelPayload`, and a
:class:`~seal_gym.adapt.batched.BatchedEngine` over it.

Replicas are built from the local model's own config and weights, so any model works (the embedded one, a
Hugging Face one, ``tiny-random``), with no download on the workers. A
:class:`~seal_gym.adapt.policy_adapter.PolicyAdapter` in the model is rebuilt there too.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch

from seal_gym.adapt.batched import BatchedEngine
from seal_gym.adapt.policy_adapter import PolicyAdapter
from seal_gym.adapt.types import AdaptOutcome, AdaptRequest, LoraSpec, Query
from seal_gym.adapt.versions import bump_weights_version


@dataclass
class ModelPayload:
    """Everything a worker needs to rebuild the local model: shipped once through the object store."""

    config: Any
    """The Hugging Face config (``model.config``)."""
    tokenizer: Any
    """The tokenizer object."""
    state: dict[str, torch.Tensor]
    """Base weights under the names of the plain model (a policy adapter's wrappers taken out), on the CPU."""
    dtype: torch.dtype
    """The local model's dtype."""
    device_type: str
    """The local model's device type ("cpu", "cuda")."""
    policy: tuple[LoraSpec, int, dict[str, torch.Tensor]] | None
    """The policy adapter's spec, seed and state, if the model has one."""
    generation_config: Any = None
    """``model.generation_config`` (answers are generated with it), if the model has one."""


def model_payload(model: torch.nn.Module, tokenizer) -> ModelPayload:
    """A CPU copy of ``model`` that :func:`build_model` turns back into an equal model anywhere."""
    policy = PolicyAdapter.of(model)
    if policy is None:
        state = {key: value.detach().to("cpu", copy=True) for key, value in model.state_dict().items()}
    else:
        state = policy.plain_state_dict()
    first = next(model.parameters())
    return ModelPayload(model.config, tokenizer, state, first.dtype, first.device.type,
                        None if policy is None else (policy.lora, policy.seed, policy.state_dict()),
                        copy.deepcopy(getattr(model, "generation_config", None)))


def build_model(payload: ModelPayload, device: torch.device) -> torch.nn.Module:
    """The model described by ``payload`` on ``device``: the local dtype on the same kind of device, else the
    one ``load_model`` picks there (bfloat16 on CUDA, float32 on the CPU)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(payload.config)
    model.load_state_dict(payload.state)
    if device.type == payload.device_type:
        dtype = payload.dtype
    else:
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model.to(device=device, dtype=dtype).eval()
    if payload.generation_config is not None:
        model.generation_config = payload.generation_config
    if payload.policy is not None:
        lora, seed, state = payload.policy
        PolicyAdapter(model, lora, seed=seed).load_state_dict(state)
    return model


class RayWorker:
    """One Ray actor: a model replica on its own device and a :class:`BatchedEngine` over it."""

    def __init__(self, payload: ModelPayload, num_threads: int, engine_kwargs: dict[str, Any]) -> None:
        import ray

        torch.set_num_threads(num_threads)
        self.device = torch.device("cuda" if ray.get_gpu_ids() else "cpu")
        self.engine_kwargs = engine_kwargs
        self.rebuild(payload)

    def rebuild(self, payload: ModelPayload) -> None:
        self.model = build_model(payload, self.device)
        self.engine = BatchedEngine(self.model, payload.tokenizer, **self.engine_kwargs)

    def device_name(self) -> str:
        return torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "cpu"

    @torch.no_grad()
    def update(self, params: dict[str, torch.Tensor], generation_config: Any = None) -> None:
        """Copy new values into named parameters (in place, as the local model was updated)."""
        if generation_config is not None:
            self.model.generation_config = generation_config
        named = dict(self.model.named_parameters())
        for name, value in params.items():
            named[name].copy_(value)
        bump_weights_version(self.model, params)

    def adapt(self, requests: list[AdaptRequest]) -> list[AdaptOutcome]:
        return self.engine.adapt(requests)

    def answer(self, queries: list[Query]) -> list[str]:
        return self.engine.answer(queries)
