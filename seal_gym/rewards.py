"""Reward kinds as objects: what an env's ``reward=`` names, how a scored outcome becomes a number.

A domain scores an action into named metrics (SealSquad: ``accuracy``, ``logprob``, ``f1``, ...; SealARC:
``success``, ``cell_accuracy``, ``logprob``); a :class:`RewardKind` says which metric is the reward, whether it
is taken relative to the domain's reference action under the same inner seed (SealSquad's passage alone,
SealARC's default recipe), and what an action with nothing to train on earns. Each domain keeps its kinds in
a :class:`RewardKinds` registry; the env argument's check, the CLI's choices and the docs table all come
from it, and so does the reward service.

>>> kinds = RewardKinds("ref", "the reference action", [RewardKind("hits", "hits", "hits after the update", empty="zero")])
>>> kinds.add_relative("hits")
>>> kinds.names()
['hits', 'hits_vs_ref']
>>> kinds.get("hits_vs_ref").value({"hits": 3.0}, {"hits": 1.0})
2.0
>>> kinds.get("misses")
Traceback (most recent call last):
ValueError: reward must be one of hits, hits_vs_ref; got 'misses'
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Iterable, Literal, Mapping

Empty = Literal["zero", "scored"]


@dataclass(frozen=True)
class RewardKind:
    """One ``reward=`` kind of a domain."""

    name: str
    """What ``reward=`` says."""
    metric: str
    """The metric of a scored outcome that is the reward."""
    doc: str
    """One line for the docs table and ``--help``."""
    reference: str | None = None
    """``None``: the metric as it is; else the name of the domain's reference action, whose same metric under
    the same inner seed is subtracted (> 0: the action taught more than the reference)."""
    empty: Empty = "scored"
    """What an action with nothing to train on earns: ``"zero"``, 0.0 without running the inner loop (for
    bounded metrics whose 0 is the worst); ``"scored"``, scored for what it is, as the domain's do-nothing
    action (for metrics with no natural worst value, such as log-probabilities, or relative ones)."""

    @property
    def relative(self) -> bool:
        return self.reference is not None

    def value(self, metrics: Mapping[str, float | None], reference: Mapping[str, float | None] | None = None) -> float:
        """The reward of an outcome's ``metrics`` (and the reference's, for a relative kind).

        Raises:
            ValueError: a metric this kind needs was not computed.
        """
        own = metrics.get(self.metric)
        base = (reference or {}).get(self.metric) if self.relative else 0.0
        if own is None or base is None or (isinstance(own, float) and math.isnan(own)):
            raise ValueError(f"reward {self.name!r} needs the metric {self.metric!r}, which the inner loop did not compute")
        return float(own) - float(base)


class RewardKinds:
    """A domain's reward kinds by name, with its reference action's name for the relative ones."""

    def __init__(self, reference: str, reference_doc: str, kinds: Iterable[RewardKind] = ()) -> None:
        self.reference = reference
        """The suffix of relative kinds (``X_vs_REFERENCE``)."""
        self.reference_doc = reference_doc
        self._kinds: dict[str, RewardKind] = {}
        for kind in kinds:
            self.add(kind)

    def add(self, kind: RewardKind) -> None:
        if kind.name in self._kinds:
            raise ValueError(f"reward kind {kind.name!r} is registered already")
        self._kinds[kind.name] = kind

    def add_relative(self, name: str) -> None:
        """Register ``NAME_vs_REFERENCE``: kind ``name`` minus the reference action's score (empty: scored)."""
        kind = self._kinds[name]
        self.add(dataclasses.replace(kind, name=f"{name}_vs_{self.reference}", reference=self.reference,
                                     empty="scored", doc=f"{kind.doc}, minus {self.reference_doc}'s"))

    def get(self, name: str) -> RewardKind:
        """The kind called ``name``; a ``ValueError`` listing the choices for any other."""
        if isinstance(name, str) and name in self._kinds:
            return self._kinds[name]
        raise ValueError(f"reward must be one of {', '.join(self._kinds)}; got {name!r}")

    def names(self) -> list[str]:
        return list(self._kinds)

    def table(self) -> str:
        """The kinds as a Markdown table (the docs' env-argument tables)."""
        rows = [f"| `{k.name}` | {k.doc} | {'0, not trained' if k.empty == 'zero' else 'scored as the do-nothing action'} |"
                for k in self._kinds.values()]
        return "\n".join(["| reward | what it is | an action with nothing to train on |", "|---|---|---|", *rows])

    def __contains__(self, name: object) -> bool:
        return name in self._kinds
