"""SealARC-v0 with the embedded SmolLM2-135M: a sensible recipe solves generated tasks more often than none.

Slow (minutes on 2 CPU cores): marked ``slow``; deselect with ``-m "not slow"``.
"""

from __future__ import annotations

import pytest

from seal_gym.arc.generator import GeneratorConfig, generate_tasks
from seal_gym.arc.recipe import Recipe

pytestmark = [pytest.mark.slow, pytest.mark.heavy]

# A 3x3 task of the easy mix whose rule survives the basic augmentations, with a small TTT budget: the third
# of these generated tasks, which the sensible recipe solves and no training does not (the first two are
# solved by neither, at this budget or at twice the examples with augmented inference, so running them only
# cost time; benchmarks/RESULTS.md, "One SealARC-v0 step", has the per-task figures).
TASKS = generate_tasks(3, seed=0, config=GeneratorConfig(families=("recolour", "flip_ud")))[2:]
TTT = {"max_examples": 12, "augmented_inference": False}
SENSIBLE = Recipe(use_basic_augmentations=True, strategy="train_using_output_tokens", learning_rate=1e-3, num_train_epochs=2)
NO_TRAINING = Recipe(use_basic_augmentations=False, num_train_epochs=0)


@pytest.fixture(scope="module")
def env():
    from seal_gym.envs.arc import SealARCEnv
    from seal_gym.models import gguf_path

    try:
        gguf_path()
    except (ModuleNotFoundError, FileNotFoundError) as err:
        pytest.skip(f"embedded model not installed: {err}")
    return SealARCEnv(model=None, tasks=TASKS, ttt=TTT)


def _solved(env, recipe: Recipe) -> list[float]:
    rewards = []
    for index in range(len(TASKS)):
        env.reset(seed=index + 2, options={"task_index": index})
        _, reward, _, _, info = env.step(recipe.to_json())
        assert info["error"] is None
        rewards.append(reward)
    return rewards


def test_sensible_recipe_beats_no_training(env):
    baseline = _solved(env, NO_TRAINING)
    trained = _solved(env, SENSIBLE)
    print(f"\nno training {baseline}  sensible recipe {trained}")
    assert sum(trained) > sum(baseline)
