"""SealARC's reward kinds (issue 32.1, on issue 33's reward objects): success, cell accuracy and the dense
log-probability of the correct output, absolute and relative to the default recipe, at known values from a
scripted engine."""

from __future__ import annotations

import dataclasses
import json

import pytest

from seal_gym.arc.generator import generate_task
from seal_gym.arc.grids import answer_text, grid_to_text
from seal_gym.arc.recipe import Recipe
from seal_gym.envs.arc import SealARCEnv
from seal_gym.registration import reward_kinds
from seal_gym.testing import ScriptedEngine

TASK = generate_task(3)
TTT = {"max_examples": 4, "max_new_tokens": 8, "augmented_inference": False}
PAYING = Recipe(learning_rate=5e-4, num_train_epochs=3)
"""The recipe the engine below rewards: it solves the task; the default recipe (lr 1e-3) gets one cell wrong."""
LOGPROB = {5e-4: -0.5, 1e-3: -2.0}
UNTRAINED_LOGPROB = -4.0


def half_wrong(grid) -> str:
    rows = [list(r) for r in grid]
    rows[0][0] = (rows[0][0] + 1) % 10
    return answer_text(tuple(tuple(r) for r in rows))


def engine() -> ScriptedEngine:
    solution = TASK.test_outputs[0]

    def after_training(request, query) -> str:
        if request.train.epochs == 0:
            return "nonsense"
        return answer_text(solution) if request.train.learning_rate == 5e-4 else half_wrong(solution)

    def logprob(request, query) -> float:
        assert query.target == answer_text(solution)  # the correct output, teacher-forced
        return UNTRAINED_LOGPROB if request.train.epochs == 0 else LOGPROB[request.train.learning_rate]

    return ScriptedEngine(after_training, target_logprob=logprob)


def step(reward: str, action: str, scripted: ScriptedEngine | None = None):
    env = SealARCEnv(model="tiny-random", engine=scripted or engine(), tasks=[TASK], ttt=TTT, reward=reward)
    env.reset(seed=0, options={"inner_seed": 11})
    _, value, *_, info = env.step(action)
    return value, info


cells = TASK.test_outputs[0]
CELL = 1 - 1 / (len(cells) * len(cells[0]))
"""The default recipe's cell accuracy: all but one cell."""


@pytest.mark.parametrize("reward,expected", [
    ("success", 1.0), ("cell_accuracy", 1.0), ("answer_logprob", -0.5),
    ("success_vs_default", 1.0), ("cell_accuracy_vs_default", 1.0 - CELL), ("answer_logprob_vs_default", 1.5),
])
def test_each_kind_scores_the_paying_recipe_at_its_known_value(reward, expected):
    value, info = step(reward, PAYING.to_json())
    assert value == pytest.approx(expected)
    assert info["solved"] is True


@pytest.mark.parametrize("reward,expected", [
    ("success", 0.0), ("cell_accuracy", CELL), ("answer_logprob", -2.0), ("answer_logprob_vs_default", 0.0),
])
def test_the_default_recipe_scores_its_own_values_and_nothing_against_itself(reward, expected):
    assert step(reward, Recipe().to_json())[0] == pytest.approx(expected)


@pytest.mark.parametrize("reward,expected,engine_calls", [
    ("success", 0.0, 0),                                   # bounded: 0, and nothing is trained
    ("cell_accuracy", 0.0, 0),
    ("answer_logprob", UNTRAINED_LOGPROB, 1),              # scored as no training at all
    ("answer_logprob_vs_default", UNTRAINED_LOGPROB + 2.0, 1),
    ("success_vs_default", 0.0, 1),                        # relative: the untrained model solves no more than default
])
def test_an_invalid_recipe_scores_as_its_kind_says_with_the_reason(reward, expected, engine_calls):
    scripted = engine()
    value, info = step(reward, '{"training": "lots"}', scripted)
    assert value == pytest.approx(expected)
    assert info["error"].startswith("invalid recipe") and len(scripted.calls) == engine_calls


def test_the_reference_trains_once_per_task_and_seed_in_the_same_engine_call():
    from seal_gym.arc.inner_loop import ArcInnerLoop, ArcItem

    scripted = engine()
    loop = ArcInnerLoop("tiny-random", scripted, TTT)
    items = [ArcItem(TASK, PAYING.to_json(), 1), ArcItem(TASK, PAYING.to_json(), 1), ArcItem(TASK, Recipe().to_json(), 1),
             ArcItem(TASK, PAYING.to_json(), 2)]
    results = loop.run(items, score_logprob=True, reference=Recipe())
    assert len(scripted.calls) == 1
    # (paying, 1), (default, 1) shared by items 0-2, (paying, 2), (default, 2)
    assert len(scripted.calls[0]) == 4
    assert [r.reference_metrics["logprob"] for r in results] == [-2.0] * 4
    assert [r.logprob for r in results] == [-0.5, -0.5, -2.0, -0.5]
    assert results[1].train_seconds == 0.0  # a shared adapter's seconds are counted once


def test_kinds_come_from_one_registry_with_clear_errors():
    kinds = reward_kinds("SealARC-v0")
    assert kinds.names() == ["success", "cell_accuracy", "answer_logprob", "success_vs_default",
                             "cell_accuracy_vs_default", "answer_logprob_vs_default"]
    assert reward_kinds("SealARCStructured-v0") is kinds and reward_kinds("MyEnv-v0") is None
    assert "| `answer_logprob_vs_default` |" in kinds.table()
    with pytest.raises(ValueError, match="reward must be one of success, cell_accuracy"):
        SealARCEnv(model="tiny-random", engine=engine(), tasks=[TASK], ttt=TTT, reward="accuracy")


def test_train_takes_the_envs_own_reward_kinds(tmp_path, capsys):
    from seal_gym.cli import main

    assert main(["train", "--env", "SealARC-v0", "--preset", "smoke", "--reward", "answer_f1",
                 "--runs-dir", str(tmp_path)]) == 2
    assert "unknown --reward 'answer_f1' for SealARC-v0; choose one of success, cell_accuracy" in capsys.readouterr().err
    assert not tmp_path.exists() or not any(tmp_path.iterdir())
