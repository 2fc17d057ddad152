"""The SealARC experiment's ``report`` stage: PLAN.md's "Outcome and tests" on the eval groups' runs.

- **Primary**, per trained agent (training seed 0): per held-out task, d = the agent's success (mean over its recipes
  and TTT seeds) minus the untrained writer's; the mean of d with a 95 % bootstrap interval (10,000 resamples of
  tasks, seeded) and the Wilcoxon signed-rank p (zero differences dropped), Holm-adjusted over the agents.
  **learned**: the interval lies above 0 and the adjusted p < 0.05; **lower**: it lies below 0; else **no measurable
  difference** (an interval spanning 0 claims no equivalence). Further training seeds get the same test, unadjusted.
- **Secondary**: the same test on the dense reward (the correct output's log-probability) against the untrained
  writer, and each writer against ``default`` and ``random-recipes`` on both; no verdicts.
- **The paper's table**: every condition's success % with Wilson's 95 % interval over its runs (recipe x task x TTT
  seed; the oracle's: task x seed), and the dense reward's mean ± s.e. over tasks.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from arc_experiment_eval import FIXED  # noqa: E402
from arc_experiment_runs import AGENTS  # noqa: E402
from study_runs import mixed_versions  # noqa: E402

PRIMARY = tuple(f"{agent}-seed0" for agent in AGENTS)
"""The primary test's writers: each agent's training seed 0 (Holm's family)."""
UNTRAINED, LEVEL, RESAMPLES = "untrained", 0.05, 10_000


def pooled(results: dict[str, list[Path]]):
    """One :class:`~seal_gym.evaluation.arc.ArcEvaluation` of every group's runs (over its chunks), each run's
    condition named by its group (a writer's recipes by the writer), the oracle's grid runs as they are."""
    from seal_gym.evaluation.arc import ORACLE, ArcEvaluation, ArcRun

    labels, grid, runs, task_ids = {}, {}, [], {}
    for group, path in ((group, path) for group, paths in results.items() for path in paths):
        data = json.loads(path.read_text())
        for row in data["runs"]:
            run = ArcRun(**row)
            if run.condition.startswith("grid-"):
                grid[run.condition] = data["labels"].get(run.condition, run.condition)
            else:
                run.condition = group
                labels[group] = group
            runs.append(run)
            task_ids.setdefault(run.task_id, None)
    if grid:
        labels.update({**grid, ORACLE: "oracle (best grid recipe per task and seed)"})
    return ArcEvaluation(labels, runs, list(task_ids))


def condition_scores(evaluation, condition: str) -> dict:
    """Per task, the mean success and the mean dense reward of the condition's runs; its runs, successes and cells."""
    success, dense, cells, wins, count = {}, {}, set(), 0.0, 0
    for task in evaluation.task_ids:
        mine = evaluation.runs_of(condition, task)
        if not mine:
            continue
        success[task] = sum(r.reward for r in mine) / len(mine)
        scored = [r.logprob for r in mine if r.logprob is not None]
        dense[task] = sum(scored) / len(scored) if scored else None
        cells |= {(task, r.seed) for r in mine}
        wins, count = wins + sum(r.reward for r in mine), count + len(mine)
    return {"success": success, "dense": dense, "cells": cells, "successes": wins, "runs": count}


def paired(a: dict, b: dict) -> dict:
    from seal_gym.stats import paired_difference

    d = paired_difference(a, b, seed=0, n_boot=RESAMPLES)
    return {"n": d.n, "mean": d.mean, "low": d.low, "high": d.high, "p_value": d.p_value, "wins": d.wins,
            "ties": d.ties, "losses": d.losses}


def verdict(test: dict, p: float) -> str:
    """The plan's verdict of a test whose (Holm-adjusted) p-value is ``p``."""
    if test["n"] and test["low"] > 0 and p < LEVEL:
        return "learned"
    if test["n"] and test["high"] < 0:
        return "lower"
    return "no measurable difference"


def primary(scores: dict[str, dict]) -> dict:
    """Each agent's seed-0 writer against the untrained writer in success, Holm over the writers present; further
    training seeds alike, unadjusted."""
    from seal_gym.stats import holm_adjusted

    present = [w for w in PRIMARY if w in scores]
    tests = {w: paired(scores[w]["success"], scores[UNTRAINED]["success"]) for w in present}
    adjusted = holm_adjusted([tests[w]["p_value"] for w in present])
    for w, p in zip(present, adjusted):
        tests[w].update(p_holm=p, verdict=verdict(tests[w], p))
    further = {w: paired(s["success"], scores[UNTRAINED]["success"]) for w, s in scores.items()
               if w not in PRIMARY and w not in FIXED and w != "oracle" and not w.startswith("grid-")}
    for test in further.values():
        test["verdict"] = verdict(test, test["p_value"])
    return {"writers": tests, "holm_family": len(present), "complete": len(present) == len(PRIMARY),
            "further_seeds": further}


def secondary(scores: dict[str, dict], writers: list[str]) -> list[dict]:
    rows = [{"writer": w, "reference": UNTRAINED, "metric": "dense", **paired(scores[w]["dense"],
                                                                          scores[UNTRAINED]["dense"])}
            for w in writers if UNTRAINED in scores]
    for reference in ("default", "random-recipes"):
        rows += [{"writer": w, "reference": reference, "metric": metric, **paired(scores[w][metric],
                                                                                 scores[reference][metric])}
                 for w in writers if reference in scores for metric in ("success", "dense")]
    return rows


def table(scores: dict[str, dict]) -> list[dict]:
    """The paper-shaped table: success % with Wilson's interval over runs, the dense reward's mean ± s.e."""
    from seal_gym.stats import mean_stderr, wilson_interval

    lines = []
    for condition, s in scores.items():
        low, high = wilson_interval(s["successes"], s["runs"])
        dense = [v for v in s["dense"].values() if v is not None]
        mean, se = mean_stderr(dense) if dense else (math.nan, math.nan)
        rate = 100 * s["successes"] / s["runs"] if s["runs"] else math.nan
        lines.append({"condition": condition, "tasks": len(s["success"]), "runs": s["runs"],
                      "successes": s["successes"], "success": rate,
                      "wilson_low": 100 * low, "wilson_high": 100 * high, "dense_mean": mean, "dense_se": se,
                      "dense_tasks": len(dense)})
    return lines


def report(out: Path, results: dict[str, list[Path]], choice: dict | None = None, state: dict | None = None) -> dict:
    """report.json's content (written there) from every group's chunks' results.json."""
    evaluation = pooled(results)
    writers = sorted(c for c in evaluation.labels if c not in FIXED and c != "oracle" and not c.startswith("grid-"))
    order = [*(c for c in FIXED if c != "oracle"), *writers, "oracle"]  # the paper's order: the oracle last
    scores = {c: condition_scores(evaluation, c) for c in order if c in evaluation.labels}
    writers = [c for c in writers if c in scores]
    cells = scores[UNTRAINED]["cells"] if UNTRAINED in scores else None
    result = {"tasks": len(evaluation.task_ids), "groups": {g: [str(p) for p in ps] for g, ps in results.items()},
              "unpaired": sorted(c for c, s in scores.items() if cells is not None and s["cells"] != cells),
              "mixed_versions": mixed_versions([p for ps in results.values() for p in ps]), "table": table(scores),
              "primary": primary(scores) if UNTRAINED in scores else None,
              "secondary": secondary(scores, writers),
              "choice": choice, "seconds": (state or {}).get("seconds", {})}
    (out / "report.json").write_text(json.dumps(result, indent=1, default=str))
    return result


def _n(value, spec: str) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def markdown(result: dict) -> str:
    """The report as Markdown tables (what the stage prints)."""
    choice, lines = result.get("choice"), [f"{result['tasks']} held-out tasks"]
    if choice:
        held = choice["heldout"]
        lines = [f"{result['tasks']} held-out tasks of suite `{choice['name']}` ({choice['note']}); TTT settings: "
                 f"{choice['ttt']['setting']} ({choice['ttt']['why']})",
                 f"planned: {held['tasks']} tasks ({held['needed']} needed for {held['power']:.0%} power to detect "
                 f"{held['effect']} in success at ICC {held['icc']:.2f}; detectable at {held['tasks']}: "
                 f"{held['detectable_effect']:.2f})"]
    if result["seconds"]:
        lines.append("cost: " + ", ".join(f"{k} {v / 3600:.1f} h" for k, v in sorted(result["seconds"].items())))
    lines.append("")
    if result["mixed_versions"]:
        lines += [f"WARNING: the runs differ in package versions {result['mixed_versions']}", ""]
    if result["unpaired"]:
        lines += [f"WARNING: not on the untrained writer's (task, seed) cells: {', '.join(result['unpaired'])}", ""]
    lines += ["| condition | tasks | runs | success % [95 % Wilson] | dense reward (nats, mean ± s.e.) |",
              "|---|---|---|---|---|"]
    lines += [f"| {t['condition']} | {t['tasks']} | {t['runs']} | {_n(t['success'], '.1f')} "
              f"[{_n(t['wilson_low'], '.1f')}, {_n(t['wilson_high'], '.1f')}] | {_n(t['dense_mean'], '.3f')} ± "
              f"{_n(t['dense_se'], '.3f')} |" for t in result["table"]]
    test = result["primary"]
    if test:
        lines += ["", f"Primary: agent − untrained, success per task (Holm over {test['holm_family']} of "
                      f"{len(PRIMARY)} agents{'' if test['complete'] else ': incomplete'})", "",
                  "| writer | tasks | mean d | 95 % bootstrap | Wilcoxon p | Holm p | verdict |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {w} | {t['n']} | {_n(t['mean'], '+.3f')} | [{_n(t['low'], '+.3f')}, {_n(t['high'], '+.3f')}] | "
                  f"{_n(t['p_value'], '.3g')} | {_n(t.get('p_holm'), '.3g')} | {t['verdict']} |"
                  for w, t in [*test["writers"].items(), *test["further_seeds"].items()]]
        if not test["further_seeds"]:
            lines += ["", "No further training seed was evaluated (PLAN.md: seeds 1 and 2 for an agent that learned, "
                          "if the CPU allows)."]
    if result["secondary"]:
        lines += ["", "Secondary (no verdicts)", "",
                  "| writer | reference | metric | tasks | mean d | 95 % bootstrap | p |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['writer']} | {r['reference']} | {r['metric']} | {r['n']} | {_n(r['mean'], '+.3f')} | "
                  f"[{_n(r['low'], '+.3f')}, {_n(r['high'], '+.3f')}] | {_n(r['p_value'], '.3g')} |"
                  for r in result["secondary"]]
    return "\n".join(lines)
