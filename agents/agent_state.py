"""An agent's checkpointed state as data only: ``agent.json`` (structure) + ``agent.safetensors`` (tensors).

A pickle (``torch.save``) runs whatever code its author put in it when it is loaded, so resuming or evaluating
a run folder someone else made would trust that person. These two files hold numbers, strings and tensors only;
loading them builds nothing but plain containers, tensors and the dataclasses the caller allows.

>>> import tempfile, torch
>>> state = {"round": 2, "betas": (0.9, 0.99), "state": {0: {"step": torch.tensor(3.0)}}}
>>> with tempfile.TemporaryDirectory() as folder:
...     save_agent_state(state, folder)
...     load_agent_state(folder) == {"round": 2, "betas": (0.9, 0.99), "state": {0: {"step": torch.tensor(3.0)}}}
True
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch

STATE_JSON = "agent.json"
STATE_TENSORS = "agent.safetensors"
LEGACY_PICKLE = "agent.pt"
"""What older seal_gym versions wrote; read with ``weights_only=True`` (no code runs), else refused."""

# Markers of values JSON has no form for: a dict with exactly one of these keys is one of them.
_TENSOR, _ARRAY, _TUPLE, _ITEMS, _DATACLASS = "__tensor__", "__ndarray__", "__tuple__", "__items__", "__dataclass__"


def save_agent_state(state: dict[str, Any], folder: str | Path) -> None:
    """Write ``state`` (nested dicts, lists, tuples, numbers, strings, tensors, arrays, dataclasses) to ``folder``.

    Raises:
        TypeError: ``state`` holds a value of another type (it would need a pickle).
    """
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(state, tensors)
    folder = Path(folder)
    save_file(tensors, str(folder / STATE_TENSORS))
    (folder / STATE_JSON).write_text(json.dumps(tree), encoding="utf-8")


def load_agent_state(folder: str | Path, allowed: Iterable[type] = ()) -> dict[str, Any]:
    """Read what :func:`save_agent_state` wrote; an older folder's ``agent.pt`` is read only if it is plain data.

    Args:
        folder: a checkpoint folder.
        allowed: the dataclasses the state may hold (e.g. the loop's ``RoundStats``); any other is refused.

    Raises:
        ValueError: the files are not plain data (e.g. a pickle that would run code) or name a type not allowed.
        FileNotFoundError: the folder holds no agent state.
    """
    folder, classes = Path(folder), {cls.__name__: cls for cls in allowed}
    if (folder / STATE_JSON).exists():
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            tensors = load_file(str(folder / STATE_TENSORS))
            return _decode(json.loads((folder / STATE_JSON).read_text(encoding="utf-8")), tensors, classes)
        except (OSError, KeyError, TypeError, json.JSONDecodeError, SafetensorError) as err:
            raise ValueError(f"{folder}'s agent state is damaged or from another seal_gym version ({err!r})") from None
    if (folder / LEGACY_PICKLE).exists():
        return _load_legacy(folder / LEGACY_PICKLE, list(classes.values()))
    raise FileNotFoundError(f"{folder} holds no agent state ({STATE_JSON} or {LEGACY_PICKLE})")


def has_agent_state(folder: Path) -> bool:
    """Whether ``folder`` holds an agent state in either format (a checkpoint is whole once it does)."""
    return (folder / STATE_JSON).exists() or (folder / LEGACY_PICKLE).exists()


def _load_legacy(path: Path, allowed: list[type]) -> dict[str, Any]:
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"refusing to load {path}: it is not plain data and loading it could run code ({reason}); "
                         "resume only run folders you trust, written by seal_gym") from None


def _encode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor):
        name = f"t{len(tensors)}"
        tensors[name] = value.detach().cpu().contiguous().clone()  # clone: safetensors refuses shared storage
        return {_TENSOR: name}
    if isinstance(value, np.ndarray):
        return {_ARRAY: _encode(torch.from_numpy(np.ascontiguousarray(value)), tensors)[_TENSOR]}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list):
        return [_encode(v, tensors) for v in value]
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v, tensors) for v in value]}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: _encode(v, tensors) for k, v in value.items()}
        return {_ITEMS: [[_encode(k, tensors), _encode(v, tensors)] for k, v in value.items()]}  # e.g. int keys
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _encode(getattr(value, f.name), tensors) for f in dataclasses.fields(value)}
        return {_DATACLASS: type(value).__name__, "fields": fields}
    raise TypeError(f"an agent's checkpoint state holds a {type(value).__name__}; store it as numbers, strings, "
                    "tensors or a dataclass of those (a pickle could run code when loaded)")


def _decode(value: Any, tensors: dict[str, torch.Tensor], classes: dict[str, type]) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors, classes) for v in value]
    if not isinstance(value, dict):
        return value
    if _TENSOR in value:
        return tensors[value[_TENSOR]]
    if _ARRAY in value:
        return tensors[value[_ARRAY]].numpy()
    if _TUPLE in value:
        return tuple(_decode(v, tensors, classes) for v in value[_TUPLE])
    if _ITEMS in value:
        return {_decode(k, tensors, classes): _decode(v, tensors, classes) for k, v in value[_ITEMS]}
    if _DATACLASS in value:
        cls = classes.get(value[_DATACLASS])
        if cls is None:
            raise ValueError(f"the checkpoint holds a {value[_DATACLASS]!r}, which is not one of {sorted(classes)}")
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: _decode(v, tensors, classes) for k, v in value["fields"].items() if k in fields})
    return {k: _decode(v, tensors, classes) for k, v in value.items()}
