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

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

from seal_gym.evaluation.charts import bar_chart
from seal_gym.self_edits import SelfEdits
from seal_gym.squad.grading import lenient_score
from seal_gym.squad.inner_loop import KnowledgeInnerLoop
from seal_gym.squad.passages import Passage
from seal_gym.stats import format_table, mean_stderr

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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


@dataclass
class AdapterScore:
    """One adapter's accuracy on one passage's questions."""

    sample: int
    """Which self-edit of the passage it was trained on (0 for the passage alone)."""
    seed: int
    strict: float
    lenient: float
    answers: list[str]
    self_edit: str
    final_loss: float | None
    num_sequences: int
    """Training sequences of the adapter (the whole group's in CPT)."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Answer metrics beyond the graders (:data:`seal_gym.squad.metrics.METRICS`)."""


@dataclass
class ConditionScore:
    """A condition on one passage: the mean over its adapters, or the one set of untrained answers."""

    strict: float
    lenient: float
    answers: list[str] = field(default_factory=list)
    """Untrained conditions only (each adapter keeps its own)."""
    adapters: list[AdapterScore] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    """Answer metrics (:data:`seal_gym.squad.metrics.METRICS`): the mean over the adapters that have each."""


@dataclass
class PassageScores:
    index: int
    """Position of the passage in its dataset."""
    title: str
    group: int
    """Its CPT group (its own position among the evaluated passages when ``cpt=1``)."""
    conditions: dict[str, ConditionScore]


@dataclass
class Accuracy:
    """Accuracy % over ``n`` units (passages) under both graders: mean and standard error of the mean."""

    n: int
    strict: float
    strict_se: float
    lenient: float
    lenient_se: float

    @staticmethod
    def over(cells: Sequence[tuple[float, float]]) -> tuple[int, float, float, float, float]:
        """The fields for ``(strict, lenient)`` accuracies (0..1) of each unit, in that order."""
        strict = mean_stderr([100 * s for s, _ in cells])
        lenient = mean_stderr([100 * v for _, v in cells])
        return (len(cells), *strict, *lenient)


@dataclass
class SummaryLine(Accuracy):
    """One condition over all passages it was scored on."""

    condition: str
    label: str
    metrics: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Answer metric -> (mean, standard error) over the passages that have it."""


TABLE_METRICS = {"exact": ("exact % (short)", 100), "f1": ("F1 % (short)", 100), "logprob": ("gold logprob", 1),
                 "recital": ("recital %", 100)}
"""Answer metrics the table shows when any condition has them: column title and scale."""


@dataclass
class SquadEvaluation:
    """Every passage's scores in every condition, and their summary."""

    labels: dict[str, str]
    """condition -> label, in table order."""
    passages: list[PassageScores]
    config: SquadEvalConfig

    def summary(self) -> list[SummaryLine]:
        lines = []
        for condition, label in self.labels.items():
            cells = [(p.conditions[condition].strict, p.conditions[condition].lenient)
                     for p in self.passages if condition in p.conditions]
            if cells:
                metrics = [p.conditions[condition].metrics for p in self.passages if condition in p.conditions]
                names = dict.fromkeys(k for m in metrics for k in m)
                lines.append(SummaryLine(*Accuracy.over(cells), condition=condition, label=label,
                                         metrics={k: mean_stderr([m[k] for m in metrics if k in m]) for k in names}))
        return lines

    def table(self) -> str:
        """Mean ± standard error over passages of each condition: both graders' accuracy, then the answer
        metrics any condition has (short-answer exact match and F1, the gold answers' log-probability, the
        share of recited answers)."""
        lines = self.summary()
        shown = [k for k in TABLE_METRICS if any(k in s.metrics for s in lines)]
        rows = []
        for s in lines:
            row = [s.label, str(s.n), f"{s.strict:.1f} ± {s.strict_se:.1f}", f"{s.lenient:.1f} ± {s.lenient_se:.1f}"]
            for k in shown:
                scale = TABLE_METRICS[k][1]
                mean, se = s.metrics.get(k, (float("nan"), float("nan")))
                row.append("-" if mean != mean else f"{scale * mean:.{1 if scale == 100 else 2}f} ± {scale * se:.{1 if scale == 100 else 2}f}")
            rows.append(row)
        return format_table(["condition", "n", "accuracy % (strict)", "accuracy % (F1>=0.5)"]
                            + [TABLE_METRICS[k][0] for k in shown], rows)

    def chart(self, title: str) -> "Figure":
        """Bars of every condition, strict and lenient, with standard-error bars."""
        lines = self.summary()
        return bar_chart([s.label for s in lines],
                         {"strict": ([s.strict for s in lines], [s.strict_se for s in lines]),
                          "lenient (F1 ≥ 0.5)": ([s.lenient for s in lines], [s.lenient_se for s in lines])},
                         title=title, ylabel="accuracy % (mean ± s.e. over passages)")

    def csv_rows(self) -> list[dict]:
        """One row per passage and condition."""
        return [{"passage_index": p.index, "title": p.title, "group": p.group, "condition": name,
                 "adapters": len(c.adapters), "accuracy_strict": c.strict, "accuracy_lenient": c.lenient,
                 **{f"answer_{k}": c.metrics.get(k) for k in TABLE_METRICS}}
                for p in self.passages for name, c in p.conditions.items()]


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


def mean_metrics(cells: Sequence[dict[str, float]]) -> dict[str, float]:
    """Each metric's mean over the cells that have it.

    >>> mean_metrics([{"f1": 0.5, "logprob": -2.0}, {"f1": 1.0}])
    {'f1': 0.75, 'logprob': -2.0}
    """
    names = dict.fromkeys(k for cell in cells for k in cell)
    return {k: sum(c[k] for c in cells if k in c) / sum(k in c for c in cells) for k in names}

