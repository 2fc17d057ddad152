"""The arc-eval summary: per-recipe rates and the oracle (best grid recipe per task and seed)."""

from seal_gym.commands.arc_eval import format_summary, summarise


def test_oracle_takes_the_best_grid_recipe_per_task():
    rows = [
        dict(recipe_name=name, task_id=task, seed=0, reward=reward, cell_accuracy=cells, num_optimizer_steps=steps)
        for name, task, reward, cells, steps in [
            ("none", "a", 0, 0.5, 0), ("grid-x", "a", 0, 0.7, 24), ("grid-y", "a", 1, 1.0, 24),
            ("none", "b", 0, 0.3, 0), ("grid-x", "b", 0, 0.6, 24), ("grid-y", "b", 0, 0.4, 24),
        ]
    ]
    lines = {line["recipe"]: line for line in summarise(rows, ["none", "grid-x", "grid-y"])}
    oracle = lines["oracle (best grid recipe per task)"]
    assert oracle["success"] == 0.5 and oracle["cell_accuracy"] == (1.0 + 0.6) / 2
    assert lines["none"]["success"] == 0.0
    assert "oracle" in format_summary(list(lines.values()))
