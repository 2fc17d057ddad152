"""The SealARC experiment's training stages (PLAN.md, "Conditions"): ``warm`` and ``train``.

``warm``: the random-recipe search on the suite's train split (``arc_demonstrations.search``: ``tasks`` tasks x
``recipes`` uniform grid recipes x ``seeds`` TTT seeds under the chosen TTT settings, one engine call per task),
resumable per task in ``OUT/warm/search.jsonl`` (each task's line names the commit it ran from; a dirty checkout is
refused unless ``allow_dirty``); the recipes that solved a task on every seed become
``OUT/warm/demonstrations.jsonl``; one round of ``seal-gym train --agent sft`` on them is the warm writer
(``OUT/writers/warm``). The search's seconds per adapter are the measured step time.

``train``: every agent for every training seed, ``rounds`` rounds of ``prompts`` tasks x ``samples`` recipes (sb3-ppo:
``prompts x samples`` tasks, one recipe each), so every agent pays for the same inner loops; ``rounds`` is fixed once
(``state.json``'s ``training``) from the step time so that the slowest agent fits the budget.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from arc_experiment_runs import (AGENTS, WARM, add_seconds, read_json, register, source,  # noqa: E402
                                 train_and_publish, ttt_options, write_json)

PROMPTS, SAMPLES = 3, 4
"""Tasks per round and recipes per task: the ``demo`` preset's (an sb3-ppo round is their product, in tasks)."""
OVERHEAD = 1.25
"""A round's seconds over its adapters' seconds: sampling the recipes and the policy update come on top (assumed)."""
TEMPERATURE = "0.7"
"""Text writers sample at this temperature, in training and when evaluated (PLAN.md)."""


def warm(out: Path, choice: dict, tasks: int, recipes: int, seeds: int, threads: int, preset: str,
         allow_dirty: bool, loop=None, model: str | None = None) -> dict:
    """Search (resumed where it stopped), demonstrations, one SFT round, published; ``loop`` replaces the inner loop
    the chosen TTT settings make (tests)."""
    from arc_demonstrations import demonstrations, search

    from seal_gym.arc.suites import suite_tasks

    register(out)
    folder = out / "warm"
    folder.mkdir(parents=True, exist_ok=True)
    found = {}
    if (folder / "search.jsonl").exists():
        found = {r["task_id"]: r for r in map(json.loads, (folder / "search.jsonl").read_text().splitlines())}
    chosen = suite_tasks(source(choice, "train"))[:tasks]
    if len(found) < len(chosen):
        from study_runs import ROOT, check_clean

        from seal_gym.runs import git_commit

        check_clean("the warm search", allow_dirty)
        code = git_commit(ROOT)
        if loop is None:
            import torch

            from seal_gym.arc.inner_loop import ArcInnerLoop

            torch.set_num_threads(threads)
            loop = ArcInnerLoop(model, "auto", choice["ttt"]["ttt"])

        def keep(task, rows, seconds: float) -> None:
            line = {"task_id": task.task_id, "rows": [[text, successes] for _, text, successes in rows],
                    "seconds": seconds, "adapters": len(rows) * seeds, "code": code}
            with open(folder / "search.jsonl", "a") as f:
                f.write(json.dumps(line) + "\n")
            add_seconds(out, "warm-search", seconds)

        done = {task_id: [tuple(row) for row in line["rows"]] for task_id, line in found.items()}
        tried = search(chosen, recipes, seeds, loop, seed=0, done=done, on_task=keep)
    else:
        by_id = {t.task_id: t for t in chosen}
        tried = [(by_id[i], text, s) for i, line in found.items() if i in by_id for text, s in line["rows"]]
    records = demonstrations(tried, min_success=1.0)
    path = folder / "demonstrations.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    print(f"warm start: {len(records)} demonstrations of {len(tried)} recipes tried -> {path}", flush=True)
    if not records:
        raise SystemExit("no recipe solved a train task on every seed: there is no warm start, and ReST-EM cannot "
                         "start as PLAN.md says; an addition to the plan must say what it starts from")
    start = ["train", "--env", "SealARC-v0", "--preset", preset, "--agent", "sft", "--demonstrations", str(path),
             "--dataset", source(choice, "train"), "--rounds", "1", "--seed", "0", "--sample-temperature", TEMPERATURE,
             *ttt_options(choice["ttt"]["ttt"])]
    return train_and_publish(out, WARM, start, threads, allow_dirty)


def measured_step_seconds(out: Path) -> float | None:
    """Seconds per adapter of the warm search (its engine calls' seconds over their adapters)."""
    path = out / "warm" / "search.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    adapters = sum(line["adapters"] for line in lines)
    return sum(line["seconds"] for line in lines) / adapters if adapters else None


def adapters_per_round(agent: str, prompts: int, samples: int) -> int:
    """Adapters one round trains: the policy's recipes, and for GRPO on ``answer_logprob_vs_default`` the default
    recipe once per task too (its reward's reference)."""
    return prompts * samples + (prompts if agent == "grpo" else 0)


def training_plan(step_seconds: float, step_source: str, hours: float, prompts: int = PROMPTS,
                  samples: int = SAMPLES, overhead: float = OVERHEAD) -> dict:
    """The rounds every agent trains: as many as the slowest agent's round fits into ``hours``."""
    per_round = {agent: adapters_per_round(agent, prompts, samples) for agent in AGENTS}
    round_seconds = {agent: n * step_seconds * overhead for agent, n in per_round.items()}
    rounds = max(1, math.floor(hours * 3600 / max(round_seconds.values())))
    return {"rounds": rounds, "prompts": prompts, "samples": samples,
            "inner_loops_per_agent": rounds * prompts * samples,
            "step_seconds": step_seconds, "step_source": step_source, "budget_hours": hours, "overhead": overhead,
            "adapters_per_round": per_round,
            "estimated_hours": {agent: rounds * s / 3600 for agent, s in round_seconds.items()}}


def fixed_plan(out: Path, step_seconds: float | None, hours: float) -> dict:
    """The training plan ``state.json`` holds, else one made now (from ``step_seconds`` or the measured step)."""
    state = read_json(out / "state.json", {})
    if "training" in state:
        if step_seconds is not None and step_seconds != state["training"]["step_seconds"]:
            print(f"note: the training plan is fixed ({state['training']['rounds']} rounds from "
                  f"{state['training']['step_seconds']:.1f} s a step); --step-seconds {step_seconds} is not used",
                  flush=True)
        return state["training"]
    measured = measured_step_seconds(out)
    if step_seconds is None and measured is None:
        raise SystemExit("no step time: run --stage warm first (its search measures one) or pass --step-seconds")
    plan = training_plan(step_seconds or measured, "given" if step_seconds else "measured (warm search)", hours)
    state["training"] = plan
    write_json(out / "state.json", state)
    return plan


def agent_command(agent: str, seed: int, choice: dict, plan: dict, out: Path, preset: str) -> list[str]:
    """The ``seal-gym train`` command that starts ``agent``'s run with training seed ``seed``."""
    common = ["train", "--preset", preset, "--agent", agent, "--seed", str(seed), "--rounds", str(plan["rounds"]),
              "--dataset", source(choice, "train"), *ttt_options(choice["ttt"]["ttt"])]
    if agent == "sb3-ppo":  # one recipe per task: prompts x samples tasks a round, the same inner loops
        return [*common, "--env", "SealARCStructured-v0", "--reward", "success", "--prompts-per-round",
                str(plan["prompts"] * plan["samples"])]
    text = [*common, "--env", "SealARC-v0", "--prompts-per-round", str(plan["prompts"]), "--samples-per-prompt",
            str(plan["samples"]), "--sample-temperature", TEMPERATURE]
    if agent == "rest-em":
        return [*text, "--reward", "success", "--init-policy", str(out / "writers" / WARM)]
    if agent == "grpo":
        return [*text, "--reward", "answer_logprob_vs_default"]
    raise ValueError(f"unknown agent {agent!r}; the plan's are {', '.join(AGENTS)}")


def train(out: Path, choice: dict, agents: list[str], seeds: list[int], threads: int, preset: str, allow_dirty: bool,
          step_seconds: float | None = None, hours: float = 2.0) -> dict:
    """Train (or resume) and publish every agent's run for every seed, as ``OUT/writers/AGENT-seedS``."""
    unknown = sorted(set(agents) - set(AGENTS))
    if unknown:
        raise SystemExit(f"--agents: {unknown} are not the plan's; choose from {', '.join(AGENTS)}")
    if "rest-em" in agents and not (out / "writers" / WARM).is_dir():
        raise SystemExit(f"rest-em starts from the warm writer, and {out / 'writers' / WARM} is missing: run --stage "
                         "warm first")
    plan = fixed_plan(out, step_seconds, hours)
    print(f"training plan: {plan['rounds']} rounds x {plan['prompts']} tasks x {plan['samples']} recipes "
          f"({plan['step_seconds']:.1f} s a step, {plan['step_source']})", flush=True)
    return {f"{agent}-seed{seed}": train_and_publish(out, f"{agent}-seed{seed}",
                                                     agent_command(agent, seed, choice, plan, out, preset),
                                                     threads, allow_dirty)
            for agent in agents for seed in seeds}
