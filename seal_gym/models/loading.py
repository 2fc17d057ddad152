"""From what a caller passes (a name, a path, a loaded model) to a :class:`~seal_gym.models.ModelBundle`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from seal_gym import hub
from seal_gym.models.bundle import ModelBundle
from seal_gym.models.cache import EMBEDDED_NAME, embedded_model_path
from seal_gym.models.synthetic import random_smollm2_architecture, tiny_random_model


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _default_dtype(device: torch.device) -> torch.dtype:
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def load_model(
    model: Any = None,
    *,
    tokenizer: Any = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    trust_remote_code: bool = False,
) -> ModelBundle:
    """Return a :class:`ModelBundle` for ``model`` (see :mod:`seal_gym.models` for what it accepts).

    Args:
        model: name, path, bundle, ``(model, tokenizer)`` pair or loaded model (then pass ``tokenizer``).
        tokenizer: the tokenizer when ``model`` is a loaded model object.
        device: defaults to CUDA when available, else CPU. Ignored for already-loaded models.
        dtype: defaults to bfloat16 on CUDA, float32 on CPU. Ignored for already-loaded models.
        trust_remote_code: passed to ``from_pretrained``; off unless asked for.
    """
    if isinstance(model, ModelBundle):
        return model
    if isinstance(model, tuple) and len(model) == 2:
        model, tokenizer = model
    if isinstance(model, torch.nn.Module):
        if tokenizer is None:
            raise TypeError("a loaded model object needs its tokenizer: load_model(model, tokenizer=tok)")
        return ModelBundle(model, tokenizer, getattr(model.config, "_name_or_path", type(model).__name__))
    if model is not None and not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model must be a name, a path, a ModelBundle or a torch model, got {type(model).__name__}")

    device = torch.device(device) if device is not None else default_device()
    dtype = dtype or _default_dtype(device)
    name = str(model) if model is not None else EMBEDDED_NAME
    if name == "tiny-random":
        bundle = tiny_random_model()
    elif name == "random:smollm2-135m":
        bundle = random_smollm2_architecture()
    elif name == EMBEDDED_NAME:
        bundle = _load_pretrained(str(embedded_model_path()), EMBEDDED_NAME, trust_remote_code=False)
    else:
        bundle = _load_pretrained(name, name, trust_remote_code=trust_remote_code)
    bundle.model.to(device=device, dtype=dtype)
    bundle.model.eval()
    return bundle


def _load_pretrained(path: str, name: str, trust_remote_code: bool) -> ModelBundle:
    from huggingface_hub.errors import HFValidationError
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # A name that is not a local folder goes to the hub; when the hub is off or unreachable, only the local
    # Hugging Face cache is read, so the error comes at once instead of after the hub client's retries.
    offline = None if Path(path).exists() else hub.hub_unusable_reason()
    kwargs = {"trust_remote_code": trust_remote_code, **({"local_files_only": True} if offline else {})}
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except (OSError, HFValidationError) as err:  # huggingface_hub < 1.0 raises the second for a missing path
        if isinstance(err, HFValidationError):
            where = f"it is not a local folder, nor a Hugging Face model id ({err})"
        elif offline:
            where = f"it is not a local folder nor in the Hugging Face cache, and {offline}"
        else:
            where = f"it is neither a local folder nor in the Hugging Face cache, and the hub could not serve it ({err})"
        raise OSError(
            f"could not load the model {name!r}: {where}. Pass the path of a local model folder (config.json "
            "and weights), or model=None for the embedded SmolLM2-135M-Instruct."
        ) from err
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return ModelBundle(model, tokenizer, name)
