"""studies/arc_warm_check.py's figures on recipes whose answers are known (its run on the tiny model is part of
tests/test_arc_experiment.py's pass over every stage)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "studies"))

import arc_warm_check  # noqa: E402
from seal_gym.arc.recipe import Recipe  # noqa: E402


def test_recipe_figures_count_learning_rates_epochs_and_the_shares():
    default = Recipe()  # lr 1e-3, 2 epochs
    shown = Recipe(learning_rate=1e-3, num_train_epochs=5, strategy="train_using_all_tokens")
    texts = [Recipe(learning_rate=1e-5, num_train_epochs=5).to_json(),  # epochs enough, lr too low
             Recipe(learning_rate=3e-3, num_train_epochs=1).to_json(),  # lr enough, too few epochs
             default.to_json(), shown.to_json(), "not a recipe"]
    figures = arc_warm_check.recipe_figures(texts, {shown}, default)
    assert figures["recipes"] == 5 and figures["invalid"] == 1
    assert figures["learning_rates"] == {"1e-05": 1, "0.001": 2, "0.003": 1}
    assert figures["epochs"] == {"1": 1, "2": 1, "5": 2}
    assert figures["at_least_default"] == 0.5 and figures["a_demonstration"] == 0.25
    assert arc_warm_check.recipe_figures(["{}x"], set(), default)["at_least_default"] == 0.0  # none valid: no division


def test_markdown_has_one_row_per_writer():
    figures = {"recipes": 2, "invalid": 0, "learning_rates": {"0.001": 2}, "epochs": {"5": 2},
               "at_least_default": 1.0, "a_demonstration": 0.5}
    report = {"tasks": ["a", "b"], "samples_per_task": 1, "temperature": "0.7", "demonstrations": 1,
              "writers": {"untrained": figures, "warm": figures}}
    rows = arc_warm_check.markdown(report).splitlines()[-2:]
    assert rows == ["| untrained | 2 (0) | 0.001: 2 | 5: 2 | 100% | 50% |", "| warm | 2 (0) | 0.001: 2 | 5: 2 | 100% | 50% |"]
