"""``evaluate_arc`` on scripted engines (known answers): the conditions, the oracle, one adapter per call."""

from __future__ import annotations

import dataclasses

import pytest

from seal_gym.arc.generator import generate_task
from seal_gym.arc.grids import answer_text
from seal_gym.arc.inner_loop import ArcInnerLoop
from seal_gym.arc.recipe import Recipe
from seal_gym.evaluation import ArcEvalConfig, RecipeGrid, SelfEdits, evaluate_arc
from seal_gym.testing import ScriptedEngine


def test_arc_conditions_sampled_recipes_and_the_oracle(tiny_bundle):
    tasks = [generate_task(3), generate_task(4)]
    solutions = {t.task_id: answer_text(t.test_outputs[0]) for t in tasks}
    current = {}

    def after_training(request, query):  # solved only by training with a learning rate above 2e-3
        return solutions[current["task"]] if request.train.epochs and request.train.learning_rate > 2e-3 else "12\n#"

    engine = ScriptedEngine(after_training)
    loop = ArcInnerLoop(tiny_bundle, engine, {"max_examples": 4, "augmented_inference": False})
    good, slow = Recipe(learning_rate=3e-3).to_json(), Recipe(learning_rate=1e-4).to_json()
    sampled = {"writer": SelfEdits("TTT, writer", [[good, "{not json"], [good, slow]])}
    config = ArcEvalConfig(grid=RecipeGrid(learning_rates=(3e-4, 3e-3)))
    original_run = loop.run

    def run(items, **options):
        current["task"] = items[0].task.task_id
        return original_run(items, **options)

    loop.run = run
    result = evaluate_arc(loop, tasks, sampled, config)
    lines = {line.condition: line for line in result.summary()}
    assert lines["in_context"].success == 0.0 and lines["default"].success == 0.0
    assert lines["writer"].success == 50.0 and lines["writer"].runs == 4
    assert lines["grid-basic-output-lr0.0003-ep2"].success == 0.0
    assert lines["oracle"].success == 100.0 and lines["oracle"].runs == 2
    assert result.per_task()["writer"] == {tasks[0].task_id: 0.5, tasks[1].task_id: 0.5}
    invalid = [r for r in result.runs if r.condition == "writer" and r.sample == 1 and r.task_id == tasks[0].task_id]
    assert invalid[0].error.startswith("invalid recipe")
    assert "oracle" in result.table() and tasks[1].task_id in result.task_table()
    assert len(engine.calls) == 2  # one engine call per task


def test_arc_runs_alone_in_their_engine_calls_with_the_dense_reward(tiny_bundle):
    """``adapters_per_call=1`` sends every adapter alone (the same runs as one call a task, so conditions evaluated
    apart pair exactly); ``score_logprob`` keeps each run's dense reward."""
    tasks = [generate_task(3), generate_task(4)]
    def logprob(request, query):
        return -request.train.learning_rate * 1000 - request.train.seed

    engine = ScriptedEngine(lambda request, query: "12\n#", target_logprob=logprob)
    loop = ArcInnerLoop(tiny_bundle, engine, {"max_examples": 4, "augmented_inference": False})
    grid = RecipeGrid(learning_rates=(3e-4, 3e-3))
    config = ArcEvalConfig(in_context=False, grid=grid, seeds=2, score_logprob=True, adapters_per_call=1)
    alone = evaluate_arc(loop, tasks, {}, config)
    assert [len(call) for call in engine.calls] == [1] * 12  # 2 tasks x 3 recipes x 2 seeds
    logprobs = {(r.task_id, r.condition, r.seed): r.logprob for r in alone.runs}
    assert logprobs[(tasks[0].task_id, "default", 1)] == pytest.approx(-2.0)
    assert logprobs[(tasks[1].task_id, "grid-basic-output-lr0.003-ep2", 0)] == pytest.approx(-3.0)
    engine.calls.clear()
    together = evaluate_arc(loop, tasks, {}, dataclasses.replace(config, adapters_per_call=None))
    assert [len(call) for call in engine.calls] == [6, 6]
    assert [dataclasses.asdict(r) for r in together.runs] == [dataclasses.asdict(r) for r in alone.runs]
    assert all(r.logprob is None for r in evaluate_arc(loop, tasks[:1], {}, ArcEvalConfig(in_context=False)).runs)
    with pytest.raises(ValueError, match="adapters_per_call >= 1"):
        ArcEvalConfig(adapters_per_call=0)
