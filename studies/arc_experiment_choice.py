"""The SealARC experiment's ``choose`` stage: PLAN.md's decisions 1-3, applied to the spread table as the plan fixed.

1. **Suite**: a family of the spread folder (``arc_recipe_spread.py --recipes 6 --seeds 2``) qualifies when at least
   2 of its tune tasks are measured in full, its best recipe's success rate exceeds the default recipe's by at
   least 0.25, and its worst recipe's is 0. The suite ``spread`` holds the qualifying families at the ``easy``
   sizes with 20 / 4 / 12 tasks per family (the held-out split larger where decision 3 needs more: the plan's
   addition 1.2); with none, the suite is ``easy`` and the recipe was not shown to matter.
2. **TTT settings**: the ``cpu`` preset, unless the ranking check's candidate (``arc_ranking_check.py``) ranks the
   recipes as the reference does: mean within-task Spearman of the dense reward >= 0.7 and success agreeing on
   >= 80 % of the cells; then the candidate's settings (its folder's ``ttt.json``).
3. **Held-out tasks**: from the dense reward's within-task ICC over the suite's families (:func:`heldout_tasks`).

Everything lands in ``choice.json`` with every figure it rests on.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

from arc_ranking_check import compare, load  # noqa: E402 (studies/ is on the path: arc_experiment.py puts it)
from arc_recipe_spread import report as spread_report
from snr_study import components

MARGIN, MIN_TASKS = 0.25, 2
"""Decision 1: best minus default success at least this, on at least this many tune tasks measured in full."""
MIN_SPEARMAN, MIN_AGREEMENT = 0.7, 0.8
"""Decision 2: the cheaper TTT settings must keep the recipes' ranking this well."""
EFFECT, POWER, ALPHA = 0.15, 0.8, 0.05
"""Decision 3: the difference in success rate to detect, with this power at this (two-sided) level."""
TTT_SEEDS, RECIPES_PER_TASK, MIN_HELDOUT = 2, 2, 24
"""Decision 3: the evaluation's TTT seeds and recipes per task and writer; never fewer held-out tasks than this."""
SUITE_SHAPE = {"size": (3, 3), "demonstrations": (4, 4), "tasks_per_family": (20, 4, 12)}
"""The ``spread`` suite's sizes: the ``easy`` suite's grids and demonstrations, 20 / 4 / at least 12 tasks per family."""
MAX_HELDOUT = 60
"""Addition 1.2: the ``spread`` suite's held-out split is what decision 3 needs, at most this many tasks (``easy``'s
5 families x 12)."""


def complete_rows(rows: list[dict], recipes: int, seeds: int) -> list[dict]:
    """The rows of the (family, task)s measured in full: every recipe with every TTT seed."""
    cells: dict[tuple, set] = {}
    for row in rows:
        if row["recipe"] >= recipes or row["seed"] >= seeds:
            raise ValueError(f"a spread row has recipe {row['recipe']}, seed {row['seed']}: pass the spread's own "
                             f"--recipes and --seeds (here {recipes}, {seeds})")
        cells.setdefault((row["family"], row["task"]), set()).add((row["recipe"], row["seed"]))
    full = {key for key, found in cells.items() if len(found) == recipes * seeds}
    return [row for row in rows if (row["family"], row["task"]) in full]


def families(rows: list[dict], recipes: int, seeds: int) -> list[dict]:
    """The spread report's line of every family (tasks measured in full only), with whether it qualifies."""
    lines = spread_report(complete_rows(rows, recipes, seeds), recipes, seeds)
    for line in lines:
        line["margin"] = line["best_success"] - line["default_success"]
        line["qualifies"] = bool(line["tasks"] >= MIN_TASKS and line["margin"] >= MARGIN - 1e-12
                                 and line["worst_success"] == 0)
    return lines


def ttt_choice(reference: Path, candidate: Path | None) -> dict:
    """Decision 2: the settings every condition trains with, and the ranking check's figures."""
    from seal_gym.arc.ttt import TTT_PRESETS

    cpu = dataclasses.asdict(TTT_PRESETS["cpu"])
    if candidate is None:
        return {"setting": "cpu", "ttt": cpu, "why": "no cheaper candidate was measured"}
    lines = compare(load(reference), load(candidate))
    rhos = [line["spearman_dense"] for line in lines if math.isfinite(line["spearman_dense"])]
    cells = sum(line["cells"] for line in lines)
    agreement = sum(line["success_agreement"] * line["cells"] for line in lines) / cells if cells else float("nan")
    spearman = float(np.mean(rhos)) if rhos else float("nan")
    keeps = bool(rhos and spearman >= MIN_SPEARMAN and agreement >= MIN_AGREEMENT)
    figures = {"tasks": len(lines), "cells": cells, "mean_spearman": spearman, "success_agreement": agreement,
               "reference": str(reference), "candidate": str(candidate)}
    if not keeps:
        return {"setting": "cpu", "ttt": cpu, **figures,
                "why": f"the candidate does not keep the ranking (needs Spearman >= {MIN_SPEARMAN} and agreement >= "
                       f"{MIN_AGREEMENT})"}
    settings = json.loads((candidate / "ttt.json").read_text())
    return {"setting": "candidate", "ttt": settings, **figures, "why": "the candidate keeps the ranking"}


def pooled_icc(rows: list[dict], names: list[str], recipes: int, seeds: int) -> dict:
    """The dense reward's within-task ICC over ``names``' tasks measured in full (variance between recipes against
    variance across TTT seeds, one-way components pooled over tasks: snr_study.components)."""
    full = [r for r in complete_rows(rows, recipes, seeds) if r["family"] in names]
    tables = []
    for family, task in sorted({(r["family"], r["task"]) for r in full}):
        table = np.full((recipes, seeds), np.nan)
        for r in full:
            if (r["family"], r["task"]) == (family, task) and r["logprob"] is not None:
                table[r["recipe"], r["seed"]] = r["logprob"]
        if np.all(np.isfinite(table)):
            tables.append(table)
    if not tables or seeds < 2:
        return {"tasks": len(tables), "s2_recipe": None, "s2_seed": None, "icc": None}
    s2_recipe, s2_seed = components(np.stack(tables))
    icc = s2_recipe / (s2_recipe + s2_seed) if s2_recipe + s2_seed > 0 else None
    return {"tasks": len(tables), "s2_recipe": s2_recipe, "s2_seed": s2_seed, "icc": icc}


def heldout_tasks(icc: float | None, families_count: int, per_family: int, effect: float = EFFECT) -> dict:
    """Decision 3: held-out tasks for ``POWER`` to detect ``effect`` in success rate, with the formula's inputs.

    A condition's score on a task is the mean of R x S success cells (R recipes, S TTT seeds). A cell's variance is
    at most 0.25 (a rate of 0.5: the plan names no rate, so the bound); the ICC splits it into a part between recipes
    (ICC x 0.25) and a part across TTT seeds ((1 - ICC) x 0.25), so Var(score | task) = 0.25 (ICC / R + (1 - ICC) /
    (R S)), and a per-task difference of two writers has SD_d = sqrt(2 Var). Tasks needed:
    n = ((z_{1 - alpha/2} + z_power) SD_d / effect)^2, then at least ``MIN_HELDOUT``, rounded up to whole rounds of
    the families, and at most the held-out split (``per_family`` x families). Without an ICC: 1, the largest SD.
    """
    from scipy.stats import norm

    rho = 1.0 if icc is None else float(icc)
    z = float(norm.ppf(1 - ALPHA / 2) + norm.ppf(POWER))
    variance = 0.25 * (rho / RECIPES_PER_TASK + (1 - rho) / (RECIPES_PER_TASK * TTT_SEEDS))
    sd = math.sqrt(2 * variance)
    needed = math.ceil((z * sd / effect) ** 2 - 1e-9)
    rounded = math.ceil(max(needed, MIN_HELDOUT) / families_count) * families_count
    tasks = min(rounded, per_family * families_count)
    return {"formula": "n = ((z_{1-a/2} + z_power) * SD_d / effect)^2, SD_d = sqrt(2 * 0.25 * (ICC/R + (1-ICC)/(R*S)))",
            "icc": rho, "icc_measured": icc is not None, "recipes_per_task": RECIPES_PER_TASK, "ttt_seeds": TTT_SEEDS,
            "cell_variance": 0.25, "alpha": ALPHA, "power": POWER, "effect": effect, "z_sum": z, "sd_difference": sd,
            "needed": needed, "minimum": MIN_HELDOUT, "families": families_count,
            "heldout_split": per_family * families_count, "tasks": tasks,
            "detectable_effect": z * sd / math.sqrt(tasks), "capped": tasks < rounded}


def choose(spread: Path, recipes: int, seeds: int, candidate: Path | None, reference: Path | None = None) -> dict:
    """Decisions 1-3 on a spread folder (and the ranking check's candidate folder): choice.json's content."""
    from seal_gym.arc.generator import EASY, FAMILY_NAMES
    from seal_gym.arc.suites import SUITES

    rows = [json.loads(line) for line in (spread / "results.jsonl").read_text().splitlines() if line.strip()]
    lines = families(rows, recipes, seeds)
    chosen = [name for name in FAMILY_NAMES for line in lines if line["family"] == name and line["qualifies"]]
    if chosen:
        suite = {"name": "spread", "suite": {"description": "the families where the recipe matters at 135M (studies/"
                                                            "arc_experiment/choice.json)", "families": chosen,
                                             **SUITE_SHAPE}}
        note = f"{len(chosen)} families qualify: {', '.join(chosen)}"
    else:
        suite = {"name": "easy", "suite": dataclasses.asdict(SUITES["easy"])}
        chosen = list(EASY.families)
        note = "no family qualifies: the experiment runs on easy, and the recipe was not shown to matter"
    icc = pooled_icc(rows, chosen, recipes, seeds)
    if suite["name"] == "spread":  # addition 1.2: the held-out split grows to what decision 3 needs, cap 60
        heldout = heldout_tasks(icc["icc"], len(chosen), max(SUITE_SHAPE["tasks_per_family"][2],
                                                             MAX_HELDOUT // len(chosen)))
        train, tune, _ = SUITE_SHAPE["tasks_per_family"]
        suite["suite"]["tasks_per_family"] = (train, tune, max(SUITE_SHAPE["tasks_per_family"][2],
                                                               heldout["tasks"] // len(chosen)))
    else:
        heldout = heldout_tasks(icc["icc"], len(chosen), suite["suite"]["tasks_per_family"][2])
    settings = spread / "ttt.json"  # a folder older than ttt.json was measured under the cpu preset
    return {"spread": {"folder": str(spread), "rows": len(rows), "recipes": recipes, "seeds": seeds,
                       "ttt": json.loads(settings.read_text()) if settings.exists() else "cpu (no ttt.json)",
                       "rule": f"tasks >= {MIN_TASKS}, best - default >= {MARGIN}, worst = 0"},
            "families": lines, "recipe_shown_to_matter": suite["name"] == "spread", "note": note, **suite,
            "ttt": ttt_choice(reference or spread, candidate), "icc": icc,
            "heldout": heldout}
