"""An explicit version of a model's weights: a counter kept beside the model, bumped by every in-place update.

Caches whose entries depend on what the model computes key on :func:`weights_version` (the inner loop's base
answers and passage references) or sync on it (the Ray engine's replicas). The counter is bumped by:

- :class:`~seal_gym.adapt.PolicyAdapter`: installation and removal, ``load_state_dict``, ``merge``,
  ``restore_pretrained``, entering and leaving ``disabled()`` (the model then computes something else), and
  :meth:`~seal_gym.adapt.PolicyAdapter.updated`, which agents call after every optimizer step;
- :class:`~seal_gym.adapt.persistent.PersistentUpdates`: every merge (so every ``apply``), ``base_weights()``
  entering and leaving, ``restore()``;
- the Ray worker's ``update`` (for its replica's own counter).

Safety net: an agent's optimizer updates the policy adapter's parameters from outside seal_gym, and a user's
optimizer may do so without calling ``updated()``. Those parameters are *watched*: each read compares their
PyTorch version counters (private, ``Tensor._version``) with the last read and bumps on a move. That is the
only place the private counters are read. Code that updates other parameters in place must call
:func:`bump_weights_version` itself.

>>> import torch
>>> model = torch.nn.Linear(2, 2)
>>> before = weights_version(model)
>>> bump_weights_version(model, ["weight"]) == weights_version(model) == before + 1
True
>>> changes_since(model, before)
frozenset({'weight'})
"""

from __future__ import annotations

from collections import deque
from typing import Iterable

import torch

ATTRIBUTE = "seal_gym_weights_version"

LOG_ENTRIES = 256
"""Bumps remembered with the parameter names they changed; a reader further behind gets "unknown" (``None``)."""


class WeightsVersion:
    """The counter of one model, with a short log of which parameters each bump changed."""

    def __init__(self) -> None:
        self.value = 0
        self._log: deque[tuple[int, frozenset[str] | None]] = deque(maxlen=LOG_ENTRIES)
        self._watched: dict[str, torch.nn.Parameter] = {}
        self._seen: dict[str, int] = {}

    def bump(self, names: Iterable[str] | None = None) -> int:
        """Count one update of the parameters ``names`` (``None``: unknown which, or parameters came or went);
        watched parameters updated since the last read are counted in it."""
        moved = self._moved()
        self.value += 1
        self._log.append((self.value, None if names is None else frozenset(names) | moved))
        return self.value

    def watch(self, params: dict[str, torch.nn.Parameter]) -> None:
        """Watch ``params`` (model parameter names to parameters) for updates made without a bump; replaces
        the parameters watched before (an empty dict stops watching)."""
        self._watched = dict(params)
        self._seen = {name: p._version for name, p in self._watched.items()}

    def current(self) -> int:
        """The version now, after bumping for any watched parameter updated since the last read."""
        if any(p._version != self._seen[name] for name, p in self._watched.items()):
            self.bump(())
        return self.value

    def _moved(self) -> frozenset[str]:
        """Watched parameters whose PyTorch version moved since the last look (which this look records)."""
        moved = frozenset(name for name, p in self._watched.items() if p._version != self._seen[name])
        self._seen.update({name: self._watched[name]._version for name in moved})
        return moved

    def changes_since(self, version: int) -> frozenset[str] | None:
        """Names of the parameters changed after ``version``; ``None`` when unknown (the log does not reach
        back that far, or a bump did not say)."""
        now = self.current()
        if version == now:
            return frozenset()
        entries = [(v, names) for v, names in self._log if v > version]
        if len(entries) != now - version or any(names is None for _, names in entries):
            return None
        return frozenset().union(*(names for _, names in entries))


def version_of(model: torch.nn.Module) -> WeightsVersion:
    """The :class:`WeightsVersion` of ``model`` (made on first use; a plain attribute, not in ``state_dict``)."""
    version = getattr(model, ATTRIBUTE, None)
    if version is None:
        version = WeightsVersion()
        object.__setattr__(model, ATTRIBUTE, version)
    return version


def weights_version(model: torch.nn.Module) -> int:
    """A number that changes whenever seal_gym updates ``model``'s weights in place (see the module docstring)."""
    return version_of(model).current()


def bump_weights_version(model: torch.nn.Module, names: Iterable[str] | None = None) -> int:
    """Say that ``model``'s parameters ``names`` (``None``: unknown which) were updated in place; the new version."""
    return version_of(model).bump(names)


def changes_since(model: torch.nn.Module, version: int) -> frozenset[str] | None:
    """See :meth:`WeightsVersion.changes_since`."""
    return version_of(model).changes_since(version)
