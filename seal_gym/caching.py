"""A bounded cache: what every cache of seal_gym is, so that none grows without bound over a long run.

>>> cache = BoundedCache(2)
>>> cache["a"], cache["b"] = 1, 2
>>> _ = cache.get("a"); cache["c"] = 3      # "b" is the least recently used: dropped
>>> sorted(cache), len(cache)
(['a', 'c'], 2)
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Hashable, Iterator


class BoundedCache:
    """At most ``maxsize`` entries, the least recently used dropped first (``maxsize=0``: keeps nothing)."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 0:
            raise ValueError(f"maxsize must be >= 0, got {maxsize}")
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, default: Any = None) -> Any:
        if key not in self._items:
            return default
        self._items.move_to_end(key)
        return self._items[key]

    def __setitem__(self, key: Hashable, value: Any) -> None:
        if not self.maxsize:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def __getitem__(self, key: Hashable) -> Any:
        if key not in self._items:
            raise KeyError(key)
        return self.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Hashable]:
        return iter(list(self._items))
