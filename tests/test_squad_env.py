"""SealSquad-v0 on the tiny model: registration, the env checker, seeding, rewards and bad actions."""

from __future__ import annotations

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import seal_gym  # noqa: F401  (registers the envs)
from seal_gym.adapt import LoraSpec, TrainSpec
from seal_gym.spaces import FreeText
from seal_gym.testing import ScriptedEngine
from seal_gym.text import clean_self_edit

from .scripted_squad import first_questions_answer, good_lines_answer

FAST = dict(train=TrainSpec(epochs=1), lora=LoraSpec(rank=2, alpha=4))


@pytest.fixture(scope="module")
def env(tiny_bundle):
    env = gym.make("SealSquad-v0", model=tiny_bundle, **FAST)
    yield env
    env.close()


def test_registered_with_lazy_entry_points():
    spec = gym.spec("SealSquad-v0")
    assert spec.entry_point == "seal_gym.envs.squad:SealSquadEnv"
    assert spec.vector_entry_point == "seal_gym.envs.squad_vector:SealSquadVectorEnv"


def test_passes_gymnasium_env_checker(tiny_bundle):
    check_env(gym.make("SealSquad-v0", model=tiny_bundle, **FAST).unwrapped, skip_render_check=True)


def test_reset_is_seeded_and_step_reports_accuracies(env):
    obs, reset_info = env.reset(seed=3)
    assert obs == env.reset(seed=3)[0]
    assert reset_info["title"] in obs and reset_info["passage"] in obs and env.observation_space.contains(obs)
    _, reward, terminated, truncated, info = env.step(f"{reset_info['title']} is a place.\nIt has facts.")
    assert terminated and not truncated
    assert reward == info["adapter_accuracy"] and 0.0 <= reward <= 1.0
    for key in ("baseline_accuracy", "adapter_accuracy", "questions", "final_loss", "num_train_tokens"):
        assert key in info
    assert len(info["questions"]) == reset_info["num_questions"] and info["num_sequences"] == 3
    assert set(info["questions"][0]) >= {"question", "gold", "answer", "correct", "baseline_answer"}
    assert env.unwrapped.last_result.train_seconds > 0  # timings live outside info


@pytest.mark.parametrize("self_edit,accuracy,gain", [("GOOD GOOD GOOD GOOD", 0.8, 0.4), ("GOOD", 0.2, -0.2)])
def test_gain_reward_subtracts_the_base_models_accuracy(tiny_bundle, self_edit, accuracy, gain):
    # Base model: 2 of 5 right; adapted: one right answer per line that says GOOD.
    engines = {kind: ScriptedEngine(good_lines_answer, first_questions_answer(2)) for kind in ("accuracy", "gain")}
    rewards = {}
    for kind, engine in engines.items():
        env = gym.make("SealSquad-v0", model=tiny_bundle, engine=engine, reward=kind)
        env.reset(seed=0)
        _, rewards[kind], *_, info = env.step(self_edit.replace(" ", "\n"))
        assert info["baseline_accuracy"] == pytest.approx(0.4) and info["adapter_accuracy"] == pytest.approx(accuracy)
        assert info["gain"] == pytest.approx(gain)
    assert rewards == pytest.approx({"accuracy": accuracy, "gain": gain})


def test_prompt_style_and_dataset_options(tiny_bundle, shared_data):
    env = gym.make("SealSquad-v0", model=tiny_bundle, dataset=str(shared_data / "squad" / "train.json"),
                   prompt_style="self-qa", **FAST)
    obs, info = env.reset(seed=0)
    assert "questions and answers" in obs and info["num_questions"] >= 1


def test_step_before_reset_and_non_string_actions(tiny_bundle):
    env = gym.make("SealSquad-v0", model=tiny_bundle, disable_env_checker=True, **FAST)
    with pytest.raises(gym.error.ResetNeeded):
        env.unwrapped.step("text")
    env.reset(seed=0)
    with pytest.raises(TypeError, match="must be a str"):
        env.step(b"bytes")


@pytest.mark.parametrize(
    "action,expect_error,note",
    [
        ("", "empty self-edit", None),
        ("\n  \n- \n", "empty self-edit", None),
        ("x" * 1_000_000, None, "truncated"),
        ("A fact.\x00\x07 Another\x1b[31m fact.", None, "control characters"),
        ("broken \ud800 surrogate", None, "surrogate"),
        ("港口瓦罗于1783年建立。\nПорт Варроу основан в 1783 году.", None, None),
    ],
)
def test_bad_actions_get_well_defined_rewards(env, action, expect_error, note):
    env.reset(seed=1)
    _, reward, terminated, _, info = env.step(action)
    assert terminated and 0.0 <= reward <= 1.0
    if expect_error:
        assert reward == 0.0 and expect_error in info["error"]
    else:
        assert "error" not in info and info["adapter_accuracy"] == reward
    if note:
        assert any(note in n for n in info["action_notes"])


@pytest.fixture(scope="module")
def scripted_env(tiny_bundle):
    return gym.make("SealSquad-v0", model=tiny_bundle, engine=ScriptedEngine(good_lines_answer))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.text(max_size=150), good=st.booleans(), after=st.text(max_size=150))
def test_any_text_gets_the_reward_its_content_earns(scripted_env, before, good, after):
    # Any text around the marker: 1 of 5 right exactly when GOOD survives cleaning (it always should).
    action = before + ("\nGOOD\n" if good else "") + after
    scripted_env.reset(seed=0)
    _, reward, terminated, truncated, info = scripted_env.step(action)
    assert terminated and not truncated
    marked = "GOOD" in clean_self_edit(action, len(action)).text
    if "error" in info:
        assert reward == 0.0 and not marked and "empty self-edit" in info["error"]
    else:
        assert reward == info["adapter_accuracy"] and (reward > 0) == marked


def test_free_text_space_accepts_llm_output():
    space = FreeText(100)
    assert space.contains("Line one.\nLigne deux — ünïcödé, 中文.\tTab")
    assert not space.contains("bell\x07") and not space.contains(3) and not space.contains("x" * 101)
    assert space.contains(space.sample())


def test_render_ansi(tiny_bundle):
    env = gym.make("SealSquad-v0", model=tiny_bundle, render_mode="ansi", **FAST)
    env.reset(seed=0)
    env.step("A fact.")
    assert "baseline" in env.render()


def test_baseline_is_answered_and_graded_once_per_passage(tiny_bundle):
    from seal_gym.squad.grading import ContainsGrader
    from seal_gym.squad.inner_loop import KnowledgeConfig, KnowledgeInnerLoop, KnowledgeItem
    from seal_gym.squad.passages import demo_passages

    class CountingGrader(ContainsGrader):
        calls = 0

        def grade(self, items):
            type(self).calls += 1
            return super().grade(items)

    loop = KnowledgeInnerLoop(tiny_bundle, grader=CountingGrader(), config=KnowledgeConfig(**FAST))
    passage = demo_passages()[0]
    loop.run([KnowledgeItem("A fact.", passage), KnowledgeItem("Another.", passage, seed=1)])
    loop.run([KnowledgeItem("A third.", passage)])
    assert CountingGrader.calls == 1 + 3  # the baseline once, then one grading per self-edit
