"""One shape for both domains: scripted engines with known answers, groups and per-sub-env options, caches
that follow the weights, and the layer rules."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest
import torch

import seal_gym  # noqa: F401
from seal_gym.adapt import LoraSpec, PolicyAdapter, TrainSpec
from seal_gym.arc.recipe import Recipe
from seal_gym.squad.passages import demo_passages
from seal_gym.testing import ScriptedEngine

PASSAGES = demo_passages()
GOLD = {qa.question: qa.answer for p in PASSAGES for qa in p.questions}


def gold_for(prompt: str) -> str:
    return next(answer for question, answer in GOLD.items() if question in prompt)


def squad_engine() -> ScriptedEngine:
    """Taught by a self-edit that says GOOD: answers everything right. Before training: only the first
    question of each passage right."""
    firsts = {p.questions[0].question for p in PASSAGES}
    return ScriptedEngine(
        lambda request, query: gold_for(query.prompt) if any("GOOD" in s.prompt for s in request.sequences) else "no idea",
        lambda query: gold_for(query.prompt) if any(q in query.prompt for q in firsts) else "no idea",
    )


@pytest.mark.parametrize("reward,good,bad", [("accuracy", 1.0, 0.0), ("gain", 0.8, -0.2)])
def test_squad_rewards_on_a_scripted_engine(tiny_bundle, reward, good, bad):
    env = gym.make("SealSquad-v0", model=tiny_bundle, engine=squad_engine(), reward=reward)
    env.reset(seed=0)  # demo passages have 5 questions: the base model gets 1 in 5 right
    assert env.step("GOOD: the facts, restated.")[1] == pytest.approx(good)
    env.reset(seed=0)
    _, value, *_, info = env.step("Unhelpful words.")
    assert value == pytest.approx(bad)
    assert info["baseline_accuracy"] == pytest.approx(0.2) and info["adapter_accuracy"] == 0.0


def test_arc_reward_on_a_scripted_engine(tiny_bundle):
    from seal_gym.arc.generator import generate_task
    from seal_gym.arc.grids import answer_text

    task = generate_task(3)
    solution = answer_text(task.test_outputs[0])
    # A recipe that trains (epochs > 0) "solves" the task; one that does not answers garbage.
    engine = ScriptedEngine(lambda request, query: solution if request.train.epochs else "12\n#")
    env = gym.make("SealARC-v0", model=tiny_bundle, engine=engine, tasks=[task], ttt={"max_examples": 4})
    env.reset(seed=0)
    assert env.step(Recipe(num_train_epochs=1).to_json())[1] == 1.0
    env.reset(seed=0)
    _, reward, *_, info = env.step(Recipe(num_train_epochs=0).to_json())
    assert reward == 0.0 and info["final_loss"] is None and not info["trained"]


def test_vector_env_groups_share_a_task_and_take_per_env_seeds(tiny_bundle):
    engine = squad_engine()
    envs = gym.make_vec("SealSquad-v0", num_envs=6, group_size=3, vectorization_mode="vector_entry_point",
                        model=tiny_bundle, engine=engine)
    observations, infos = envs.reset(seed=4, options={"per_env": [{"inner_seed": 100 + i} for i in range(6)]})
    assert observations[0] == observations[1] == observations[2] and observations[3] == observations[5]
    assert infos["group"].tolist() == [0, 0, 0, 1, 1, 1]
    # The first group draws exactly what sub-env 0 draws alone with seed 4.
    single = gym.make("SealSquad-v0", model=tiny_bundle, engine=engine)
    assert single.reset(seed=4)[0] == observations[0]
    _, rewards, *_ = envs.step(["GOOD one", "bad", "GOOD two", "bad", "bad", "GOOD"])
    assert rewards.tolist() == [1.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    assert len(engine.calls) == 1 and [r.train.seed for r in engine.calls[0]] == [100, 101, 102, 103, 104, 105]
    # Pinning the task on a group's first sub-env.
    _, infos = envs.reset(options={"per_env": [{"passage_index": 7}] + [{}] * 2 + [{"passage_index": 2}] + [{}] * 2})
    assert infos["passage_index"].tolist() == [7, 7, 7, 2, 2, 2]
    with pytest.raises(ValueError, match="per_env"):
        envs.reset(options={"per_env": [{}]})
    with pytest.raises(ValueError, match="group_size"):
        gym.make_vec("SealSquad-v0", num_envs=4, group_size=3, vectorization_mode="vector_entry_point",
                     model=tiny_bundle, engine=engine)


def test_arc_vector_env_groups(tiny_bundle):
    envs = gym.make_vec("SealARC-v0", num_envs=4, group_size=2, vectorization_mode="vector_entry_point",
                        model=tiny_bundle, engine=ScriptedEngine(lambda r, q: ""))
    _, infos = envs.reset(seed=1)
    ids = infos["task_id"].tolist()
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]


def test_baseline_cache_follows_the_weights():
    from seal_gym.models import load_model
    from seal_gym.squad.inner_loop import KnowledgeConfig, KnowledgeInnerLoop

    bundle = load_model("tiny-random", device="cpu")
    adapter = PolicyAdapter(bundle.model, LoraSpec(rank=2, alpha=4))
    loop = KnowledgeInnerLoop(bundle, engine="sequential",
                              config=KnowledgeConfig(train=TrainSpec(epochs=1), lora=LoraSpec(rank=2, alpha=4)))
    calls = []
    answer = loop.engine.answer
    loop.engine.answer = lambda queries: calls.append(1) or answer(queries)
    first = loop.baseline(PASSAGES[0])
    assert loop.baseline(PASSAGES[0]) is first and len(calls) == 1  # cached while the weights stay
    with torch.no_grad():
        for p in adapter.parameters():
            p.add_(0.5)  # a (large) policy update
    updated = loop.baseline(PASSAGES[0])
    assert len(calls) == 2
    assert updated[0] == answer(loop.queries(PASSAGES[0]))  # the new weights' answers, not the stale ones
    assert updated[0] != first[0]


def test_engine_argument_must_be_an_engine(tiny_bundle):
    with pytest.raises(TypeError, match="adapt"):
        gym.make("SealSquad-v0", model=tiny_bundle, engine=object())


ROOT = Path(__file__).resolve().parents[1]
# layer -> (its files, module prefixes it must never import). seal_gym.envs / seal_gym.agents are installed
# from envs/ and agents/ (package-dir), which import-linter's graph cannot see, so the rules are checked here.
CLI = ("seal_gym.cli", "seal_gym.commands")
LAYERS = {
    "core": ([p for p in (ROOT / "seal_gym").rglob("*.py") if "commands" not in p.parts and p.name != "cli.py"],
             ("seal_gym.envs", "seal_gym.agents", *CLI)),
    "envs": (list((ROOT / "envs").glob("*.py")), ("seal_gym.agents", *CLI)),
    "agents": (list((ROOT / "agents").glob("*.py")), ("seal_gym.envs", *CLI)),
    "peft outside seal_gym.adapt": ([p for p in [*(ROOT / "seal_gym").rglob("*.py"), *(ROOT / "envs").glob("*.py"),
                                                 *(ROOT / "agents").glob("*.py")] if "adapt" not in p.parts],
                                    ("peft",)),
}


def imported_modules(path: Path) -> set[str]:
    """Every module an absolute import in ``path`` names, lazy imports inside functions included."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_rules_hold(layer):
    files, forbidden = LAYERS[layer]
    assert files, f"no files found for layer {layer}"
    broken = sorted(f"{path.relative_to(ROOT)} imports {name}" for path in files for name in imported_modules(path)
                    if any(name == f or name.startswith(f + ".") for f in forbidden))
    assert not broken, "\n".join(broken)


def test_layer_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from seal_gym.envs.squad import SealSquadEnv\n    import peft.tuners\n")
    assert {"seal_gym.envs.squad", "peft.tuners"} <= imported_modules(bad)
