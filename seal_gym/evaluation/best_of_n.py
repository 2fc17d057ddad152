"""Best-of-n: of each passage's n self-edits, the one with the highest reward (one round of ReST-EM's ceiling).

Computed from the adapters an evaluation already trained (no extra training): for each passage, the self-edit
whose adapters (one per inner-loop seed) score highest on the chosen metric, averaged over seeds, and that
self-edit's scores in every metric. The pick and the score come from the same adapters, so best-of-n is
optimistic by construction: it is the ceiling a writer reaches if one round of ReST-EM taught it to write
its best self-edit every time, not an estimate of a held-out score.
"""

from __future__ import annotations

import dataclasses
import math
from statistics import mean

from seal_gym.evaluation.reports import cell_metrics
from seal_gym.evaluation.squad import AdapterScore, ConditionScore, SquadEvaluation


def pick_best(cell: ConditionScore, by: str = "strict") -> list[AdapterScore]:
    """The adapters of the self-edit (sample) with the highest mean ``by`` over its seeds; ties go to the
    lowest sample number.

    Raises:
        ValueError: the adapters have no numeric metric ``by``.
    """
    by_sample: dict[int, list[AdapterScore]] = {}
    for adapter in cell.adapters:
        by_sample.setdefault(adapter.sample, []).append(adapter)
    rewards = {}
    for sample, adapters in by_sample.items():
        values = [cell_metrics(a).get(by) for a in adapters]
        if any(v is None for v in values):
            known = sorted(cell_metrics(adapters[0]))
            raise ValueError(f"best-of-n cannot pick by {by!r}: an adapter score has no such metric (it has {known})")
        rewards[sample] = mean(values)
    best = max(sorted(rewards), key=lambda sample: rewards[sample])  # max keeps the first of equal rewards
    return by_sample[best]


def best_score(cell: ConditionScore, by: str = "strict") -> ConditionScore:
    """The condition's score on a passage as if its best self-edit (see :func:`pick_best`) were its only one.

    Every float metric of the score is the mean over the picked adapters (NaN for one the adapters lack).
    """
    chosen = pick_best(cell, by)
    per_adapter = [cell_metrics(a) for a in chosen]
    changes = {}
    for f in dataclasses.fields(cell):
        value = getattr(cell, f.name)
        if isinstance(value, dict):
            changes[f.name] = {k: _mean_of(per_adapter, k) for k in value}
        elif isinstance(value, float):
            changes[f.name] = _mean_of(per_adapter, f.name)
    return dataclasses.replace(cell, **changes, adapters=list(chosen))


def with_best_of_n(evaluation: SquadEvaluation, source: str, by: str = "strict", name: str = "best_of_n",
                   label: str | None = None) -> SquadEvaluation:
    """``evaluation`` with one more condition, ``name``: the best of ``source``'s self-edits on each passage.

    The new condition comes right after ``source`` in the table.

    Raises:
        ValueError: ``source`` is not a condition with self-edits in the evaluation, or ``by`` is not a metric.
    """
    if source not in evaluation.labels or not any(source in p.conditions and p.conditions[source].adapters
                                                  for p in evaluation.passages):
        raise ValueError(f"best-of-n needs the self-edits of condition {source!r}, which this evaluation lacks")
    label = label or f"{evaluation.labels[source]}, best of n by {by}"
    passages = [dataclasses.replace(p, conditions={**p.conditions, name: best_score(p.conditions[source], by)})
                if source in p.conditions and p.conditions[source].adapters else p for p in evaluation.passages]
    labels = {}
    for key, value in evaluation.labels.items():
        labels[key] = value
        if key == source:
            labels[name] = label
    return dataclasses.replace(evaluation, labels=labels, passages=passages)


def _mean_of(metrics: list[dict[str, float]], key: str) -> float:
    values = [m[key] for m in metrics if key in m]
    return mean(values) if len(values) == len(metrics) and values else math.nan
