"""One TensorBoard tag schema for every agent: any two runs overlay, rounds that train nothing included.

Every agent runs two rounds on SealARC-v0 with a scripted engine whose answers are known: in round 1 no
recipe solves the task (every group's rewards are equal, so GRPO and PPO train nothing), in round 2 a recipe
that trains does. The events are read back as TensorBoard reads them.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from seal_gym.agents import AGENTS, make_agent
from seal_gym.agents import presets
from seal_gym.agents.policy import SamplingConfig
from seal_gym.agents.scalars import SCHEMA
from seal_gym.arc.generator import generate_task
from seal_gym.arc.grids import answer_text
from seal_gym.arc.recipe import Recipe
from seal_gym.domain_spec import SMOKE_LORA
from seal_gym.testing import ScriptedEngine

pytestmark = pytest.mark.heavy  # over 20 s in all: handed out first (tests/conftest.py)

TASK = generate_task(3)
ROUNDS = 2
SETTINGS = {
    "rest-em": dict(prompts_per_round=2, samples_per_prompt=2, learning_rate=1e-2, epochs=1),
    "grpo": dict(prompts_per_round=2, samples_per_prompt=2, learning_rate=1e-2),
    "ppo": dict(prompts_per_round=2, samples_per_prompt=2, learning_rate=1e-2),
    "sb3-ppo": dict(prompts_per_round=4, batch_size=4),
    "sft": dict(prompts_per_round=2, samples_per_prompt=2, learning_rate=1e-2),
}


def scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag's ``(step, value)`` points, as TensorBoard reads the folder."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def run(name: str, tiny_bundle, folder: Path) -> dict[str, list[tuple[int, float]]]:
    solution = answer_text(TASK.test_outputs[0])
    solving = {"on": False}  # round 1: nothing solves; round 2: a recipe that trains solves the task
    engine = ScriptedEngine(lambda request, query: solution if solving["on"] and request.train.epochs else "12\n#")
    env_kwargs = {"model": tiny_bundle, "engine": engine, "tasks": [TASK], "ttt": {"max_examples": 4}}
    policy = None
    if AGENTS[name].needs_text_policy:
        sampling = SamplingConfig(max_new_tokens=400, choices="arc-recipes")  # recipes from the grid: they parse
        policy = presets.testbed_policy(lora=SMOKE_LORA, sampling=sampling)
    settings = dict(SETTINGS[name])
    if name == "sft":  # a teacher's recipe (any prompt: sft trains on the pairs as they are)
        teacher = folder.parent / "teacher.jsonl"
        teacher.write_text(json.dumps({"prompt": "Write a recipe.", "completion": Recipe().to_json()}) + "\n")
        settings["demonstrations"] = str(teacher)
    config = AGENTS[name].config_class(**settings)
    agent = make_agent(name, policy=policy, env="SealARC-v0", config=config, env_kwargs=env_kwargs)
    agent.learn(ROUNDS, run_dir=folder, callback=lambda agent, stats: solving.update(on=True) or True)
    return scalars(folder)


@pytest.fixture(scope="module")
def runs(tiny_bundle, tmp_path_factory) -> dict[str, dict[str, list[tuple[int, float]]]]:
    return {name: run(name, tiny_bundle, tmp_path_factory.mktemp(name)) for name in sorted(AGENTS)}


def test_every_agent_writes_the_same_tags_in_every_round(runs):
    tags = {name: set(events) for name, events in runs.items()}
    reference = tags["grpo"]
    assert set(SCHEMA) <= reference, sorted(set(SCHEMA) - reference)
    assert {"charts/cell_accuracy", "charts/solved"} <= reference  # the env's declared infos
    for name, events in runs.items():
        assert tags[name] == reference, (name, sorted(tags[name] ^ reference))
        short = {tag: len(points) for tag, points in events.items() if len(points) != ROUNDS}
        assert not short, (name, short)  # every tag has one point per round


def test_a_round_that_trains_nothing_says_so(runs):
    for name in ("grpo", "ppo"):  # round 1: every reward 0, so no group carries a signal
        first = {tag: points[0][1] for tag, points in runs[name].items()}
        assert first["charts/reward_max"] == 0.0 and first["charts/zero_variance_groups"] == 1.0
        assert first["charts/trained_fraction"] == 0.0, name
    grpo = {tag: points[0][1] for tag, points in runs["grpo"].items()}
    assert math.isnan(grpo["losses/policy_loss"]) and math.isnan(grpo["losses/kl"])  # not measured: NaN, not absent
    sb3 = {tag: points[-1][1] for tag, points in runs["sb3-ppo"].items()}
    assert sb3["charts/trained_fraction"] == 1.0 and math.isfinite(sb3["losses/approx_kl"])
    assert math.isnan(sb3["losses/kl"])  # sb3-ppo has no reference policy
    rest = {tag: points[-1][1] for tag, points in runs["rest-em"].items()}
    assert rest["charts/trained_fraction"] > 0 and math.isfinite(rest["losses/policy_loss"])


def test_the_docs_table_lists_the_schema():
    docs = (Path(__file__).parents[1] / "docs" / "tensorboard.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+/[a-z_0-9]+)` \|", docs, flags=re.M))
    assert documented >= set(SCHEMA), sorted(set(SCHEMA) - documented)

