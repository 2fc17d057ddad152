"""SEAL's knowledge-incorporation table: what training on self-edits teaches, against the passage alone.

Conditions, per passage (questions always asked without the passage, except in context):

- ``base``: the model as it is;
- ``passage``: an adapter trained on the passage alone;
- one condition per :class:`~seal_gym.self_edits.SelfEdits` source (the base model's own, a
  trained policy's, a file's): an adapter per self-edit, trained on it plus the passage;
- ``in_context``: the passage in the prompt, no training (the reference above every adapter).

``n`` self-edits per passage times ``r`` inner-loop seeds give ``n * r`` adapters per condition; a passage's
score is their mean, and tables report mean ± standard error over passages, under the strict grader of the
inner loop and the lenient one (best-span token F1 >= 0.5).

CPT (``cpt=N``, the paper's multi-passage setting): consecutive groups of N passages share each adapter. The
adapter for self-edit k trains on self-edit k of every passage of the group (and all their passages) and is
asked all their questions. Each passage is still scored on its own questions, so the table keeps one
unit; passages of a group share adapters, so the standard error understates the spread between adapters.
All adapters of a group go to the engine in one call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

# The results' types live in squad_results.py; they are imported here too, where callers have always found them.
from seal_gym.evaluation.squad_results import (  # noqa: F401
    TABLE_METRICS,
    Accuracy,
    AdapterScore,
    ConditionScore,
    PassageScores,
    SquadEvaluation,
    SummaryLine,
    mean_metrics,
)
from seal_gym.self_edits import SelfEdits
from seal_gym.squad.grading import lenient_score
from seal_gym.squad.inner_loop import KnowledgeInnerLoop
from seal_gym.squad.passages import Passage

FIXED_LABELS = {"base": "base model, no passage", "passage": "trained on the passage",
                "in_context": "passage in context (no training)"}


@dataclass(frozen=True)
class SquadEvalConfig:
    """Which fixed conditions run, and how many adapters each passage gets."""

    base: bool = True
    """Score the model without training and without the passage."""
    passage_only: bool = True
    """Score an adapter trained on the passage alone."""
    in_context: bool = True
    """Score the model with the passage in its prompt."""
    seeds: int = 1
    """Inner-loop seeds per self-edit (r): seeds ``seed, seed + 1, ...``."""
    seed: int = 0
    """The first inner-loop seed (LoRA initialisation and data order)."""
    cpt: int = 1
    """Passages pooled into one adapter (1: the single-passage setting)."""
    groups_per_call: int = 4
    """Groups of ``cpt`` passages whose adapters go to the inner-loop engine in one call (the batched engine
    trains up to its ``max_adapters`` together). The batch changes the float reductions, which training can
    amplify into other answers (benchmarks/RESULTS.md): compare only evaluations run with one value."""
    adapters_per_call: int | None = None
    """At most this many adapters in one engine call (``None``: every adapter of ``groups_per_call`` groups
    together). 1 trains each adapter alone: the one procedure under which every condition, in this run or
    another, is trained exactly as it would be by itself, so conditions pair across run folders."""

    def __post_init__(self) -> None:
        if self.seeds < 1 or self.cpt < 1 or self.groups_per_call < 1 or (self.adapters_per_call or 1) < 1:
            raise ValueError(f"seeds, cpt, groups_per_call and adapters_per_call must be >= 1, got seeds={self.seeds}, "
                             f"cpt={self.cpt}, groups_per_call={self.groups_per_call}, "
                             f"adapters_per_call={self.adapters_per_call}")


def condition_labels(self_edits: dict[str, SelfEdits], config: SquadEvalConfig) -> dict[str, str]:
    """condition -> label for the conditions that run, in table order."""
    labels = {name: FIXED_LABELS[name] for name, on in (("base", config.base), ("passage", config.passage_only)) if on}
    labels.update({name: source.label for name, source in self_edits.items()})
    if config.in_context:
        labels["in_context"] = FIXED_LABELS["in_context"]
    return labels


def groups_of(count: int, cpt: int) -> list[range]:
    """Positions of consecutive CPT groups (the last one may be shorter).

    >>> groups_of(5, 2)
    [range(0, 2), range(2, 4), range(4, 5)]
    """
    return [range(start, min(start + cpt, count)) for start in range(0, count, cpt)]


Job = tuple[str, int, int, list["str | None"]]
"""One adapter of a group: condition, sample, inner seed, the self-edit of each passage (None: that passage
has no self-edit number ``sample``)."""


def evaluate_group(loop: KnowledgeInnerLoop, passages: Sequence[Passage], self_edits: dict[str, list[list[str]]],
                   config: SquadEvalConfig, indices: Sequence[int] | None = None, group: int = 0) -> list[PassageScores]:
    """Every condition on one group of passages (one passage when not pooling); all adapters in ONE engine call.

    Args:
        loop: the inner loop (its model, engine, grader and training settings).
        passages: the group's passages.
        self_edits: condition -> the group's self-edits, one list per passage (an empty list: the passage
            contributes only its text to that condition's adapters and is not scored in it).
        indices: dataset positions of the passages, for the results (default 0, 1, ...).
    """
    jobs, requests = _group_requests(loop, passages, self_edits, config)
    outcomes = loop.engine.adapt(requests) if requests else []
    return _group_scores(loop, passages, jobs, requests, outcomes, config, indices, group)


def _group_requests(loop: KnowledgeInnerLoop, passages: Sequence[Passage], self_edits: dict[str, list[list[str]]],
                    config: SquadEvalConfig) -> tuple[list[Job], list]:
    """The group's adapters (see :data:`Job`) and their inner-loop requests, in the same order."""
    seeds = [config.seed + j for j in range(config.seeds)]
    jobs: list[Job] = []
    if config.passage_only:
        jobs += [("passage", 0, seed, [""] * len(passages)) for seed in seeds]
    for name, edits in self_edits.items():
        for k in range(max((len(e) for e in edits), default=0)):
            jobs += [(name, k, seed, [e[k] if k < len(e) else None for e in edits]) for seed in seeds]
    requests = [loop.pooled_request([(edit or "", p) for p, edit in zip(passages, texts)], seed)
                for _, _, seed, texts in jobs]
    return jobs, requests


def _group_scores(loop: KnowledgeInnerLoop, passages: Sequence[Passage], jobs: list[Job], requests: list,
                  outcomes: list, config: SquadEvalConfig, indices: Sequence[int] | None,
                  group: int) -> list[PassageScores]:
    """The group's scores from its adapters' outcomes (and the untrained conditions, answered here)."""
    indices = list(indices) if indices is not None else list(range(len(passages)))
    queries = [loop.queries(p) for p in passages]
    scores = [PassageScores(index, p.title, group, {}) for index, p in zip(indices, passages)]
    if config.base:
        for score, p in zip(scores, passages):
            answers, strict, verdicts = loop.baseline(p)
            score.conditions["base"] = ConditionScore(strict, lenient_score(answers, p), list(answers),
                                                      metrics=loop.measure(p, answers, verdicts))
    for (name, sample, seed, texts), request, outcome in zip(jobs, requests, outcomes):
        offset = 0
        for score, p, qs, text in zip(scores, passages, queries, texts):
            answers, logprobs = outcome.answers[offset : offset + len(qs)], outcome.target_logprobs[offset : offset + len(qs)]
            offset += len(qs)
            if text is None:
                continue  # the passage had no self-edit number `sample`: it trained along, unscored here
            strict, verdicts = loop.grade_answers(p, answers)
            cell = score.conditions.setdefault(name, ConditionScore(0.0, 0.0))
            cell.adapters.append(AdapterScore(sample, seed, strict, lenient_score(answers, p), answers, text,
                                              outcome.final_loss, len(request.sequences),
                                              loop.measure(p, answers, verdicts, logprobs)))
    for score in scores:
        for cell in score.conditions.values():
            if cell.adapters:
                cell.strict = sum(a.strict for a in cell.adapters) / len(cell.adapters)
                cell.lenient = sum(a.lenient for a in cell.adapters) / len(cell.adapters)
                cell.metrics = mean_metrics([a.metrics for a in cell.adapters])
    if config.in_context:
        for score, p in zip(scores, passages):
            answers = loop.in_context_answers(p)
            strict, verdicts = loop.grade_answers(p, answers)
            score.conditions["in_context"] = ConditionScore(strict, lenient_score(answers, p), answers,
                                                            metrics=loop.measure(p, answers, verdicts))
    return scores


def evaluate_squad(loop: KnowledgeInnerLoop, passages: Sequence[Passage], self_edits: dict[str, SelfEdits] | None = None,
                   config: SquadEvalConfig | None = None, first_index: int = 0,
                   on_group: Callable[[list[PassageScores]], None] | None = None) -> SquadEvaluation:
    """The whole table: :func:`evaluate_group` over consecutive groups of ``config.cpt`` passages, the adapters
    of ``config.groups_per_call`` groups trained in one engine call.

    Args:
        self_edits: condition name -> its self-edits, ``per_task`` aligned with ``passages``.
        first_index: dataset position of ``passages[0]`` (for the results).
        on_group: called with each group's scores as they come (progress, logging).
    """
    config = config or SquadEvalConfig()
    self_edits = self_edits or {}
    for name, source in self_edits.items():
        if len(source.per_task) != len(passages):
            raise ValueError(f"self-edits {name!r} cover {len(source.per_task)} passages, not {len(passages)}")
    results: list[PassageScores] = []
    groups = groups_of(len(passages), config.cpt)
    for first in range(0, len(groups), config.groups_per_call):
        # Several groups' adapters in one engine call: the batched engine trains up to its max_adapters together
        # instead of one passage's few (what that gains, and how it moves the scores: benchmarks/RESULTS.md).
        batch = [(g, groups[g]) for g in range(first, min(first + config.groups_per_call, len(groups)))]
        planned = [_group_requests(loop, [passages[i] for i in members],
                                   {name: [s.per_task[i] for i in members] for name, s in self_edits.items()}, config)
                   for _, members in batch]
        requests = [r for _, group_requests in planned for r in group_requests]
        size = config.adapters_per_call or max(1, len(requests))
        outcomes = [o for at in range(0, len(requests), size) for o in loop.engine.adapt(requests[at : at + size])]
        offset = 0
        for (g, members), (jobs, group_requests) in zip(batch, planned):
            scores = _group_scores(loop, [passages[i] for i in members], jobs, group_requests,
                                   outcomes[offset : offset + len(group_requests)], config,
                                   [first_index + i for i in members], g)
            offset += len(group_requests)
            results.extend(scores)
            if on_group:
                on_group(scores)
    return SquadEvaluation(condition_labels(self_edits, config), results, config)
