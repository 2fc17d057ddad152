"""The ARC recipe studies on known answers: the recipe spread (studies/arc_recipe_spread.py) on a scripted engine,
and the ranking check (studies/arc_ranking_check.py) on two spread runs with known rankings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "studies"))

import arc_ranking_check as check  # noqa: E402
import arc_recipe_spread as spread  # noqa: E402


def test_arc_recipe_spread_measures_each_family_once_and_reports_the_spread(tmp_path):
    """The recipe spread's measurement, on a scripted engine: the default recipe (lr 1e-3) solves every task and the
    others none; the dense reward follows the learning rate plus a seed term, so the ICC is known to be high."""
    from seal_gym.arc.grids import answer_text
    from seal_gym.arc.inner_loop import ArcInnerLoop
    from seal_gym.testing import ScriptedEngine

    solutions = {}

    def after(request, query):
        right = request.train.learning_rate == 1e-3 and request.train.epochs == 2
        return solutions.get(query.prompt, "0") if right else "0"

    def logprob(request, query):
        return -request.train.learning_rate * 1000 - 0.01 * (request.train.seed % 2)

    engine = ScriptedEngine(after, target_logprob=logprob)
    loop = ArcInnerLoop("tiny-random", engine, {"max_examples": 4, "max_new_tokens": 8, "augmented_inference": False})
    from seal_gym.arc.generator import GeneratorConfig, generate_task
    from seal_gym.arc.ttt import build_plan
    from seal_gym.arc.recipe import Recipe

    for family in ("flip_lr", "transpose"):
        for k in range(2):
            task = generate_task(spread.TUNE_SEED + k, GeneratorConfig(families=(family,)))
            for seed in range(2):
                plan = build_plan(task, Recipe(), loop.config, seed)
                solutions[plan.request.queries[0].prompt] = answer_text(task.test_outputs[0])
    rows = spread.measure(tmp_path, ["flip_lr", "transpose"], tasks=2, count=4, seeds=2, loop=loop)
    assert len(rows) == 2 * 2 * 4 * 2 and len(engine.calls) == 4  # one engine call per family and task
    again = spread.measure(tmp_path, ["flip_lr", "transpose"], tasks=2, count=4, seeds=2, loop=loop)
    assert len(again) == len(rows) and len(engine.calls) == 4  # resumed: nothing scored twice
    for line in spread.report(rows, count=4, seeds=2):
        assert (line["default_success"], line["worst_success"]) == (1.0, 0.0)
        assert line["icc"] > 0.9
    # The script's report of its folder is the same, and ttt.json keeps the folder to one TTT setting.
    assert spread.main(["--out", str(tmp_path), "--report", "--recipes", "4", "--seeds", "2"]) == \
        spread.report(rows, count=4, seeds=2)


def test_arc_ranking_check_finds_the_same_and_the_reversed_ranking(tmp_path):
    """The ranking check's comparison of two spread runs: a candidate that keeps the reference's recipe order scores a
    Spearman of 1 and full success agreement; one that reverses it scores -1."""
    def folder(name: str, logprob, success) -> Path:
        out = tmp_path / name
        out.mkdir()
        rows = [{"family": "flip_lr", "task": 0, "recipe": i, "seed": s, "logprob": logprob(i, s),
                 "success": success(i)} for i in range(4) for s in range(2)]
        (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        return out

    reference = folder("ref", lambda i, s: -i - 0.1 * s, lambda i: float(i == 0))
    same = folder("same", lambda i, s: -2 * i - 0.3 * s, lambda i: float(i == 0))
    reversed_ = folder("rev", lambda i, s: i, lambda i: float(i == 3))
    [line] = check.main([str(reference), str(same)])
    assert (line["spearman_dense"], line["success_agreement"], line["cells"]) == (1.0, 1.0, 8)
    [line] = check.main([str(reference), str(reversed_)])
    assert line["spearman_dense"] == -1.0 and line["success_agreement"] == 0.5
