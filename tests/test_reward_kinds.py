"""SealSquad's measures of knowledge, not recitation: the exact grader, answer metrics and reward kinds, on a
scripted engine whose answers and scores are known."""

from __future__ import annotations

import gymnasium as gym
import pytest

import seal_gym  # noqa: F401  (registers the envs)
from seal_gym.squad.domain import REWARDS
from seal_gym.squad.grading import GradeItem, make_grader
from seal_gym.testing import ScriptedEngine
from tests.scripted_squad import asked

RECITAL = ("The factory acts of the period limited the hours of children, and in 1847 the Ten Hours Act "
           "set the working day for women and children to ten hours")


def test_exact_grader_does_not_credit_a_recital_that_contains_the_gold_span():
    items = [GradeItem("When was the Ten Hours Act?", "1847", RECITAL),
             GradeItem("When was the Ten Hours Act?", "1847", "The answer is 1847."),
             GradeItem("When was the Ten Hours Act?", "1847", "1833")]
    assert [v.correct for v in make_grader("contains").grade(items)] == [True, True, False]
    assert [v.correct for v in make_grader("exact").grade(items)] == [False, True, False]


def scripted_env(reward: str, **kwargs):
    """Demo passages; the adapted model answers question i right iff the self-edit has more than i lines
    that say GOOD, and scores the gold answer at -1 per question minus 0.5 for each GOOD line missing."""

    def good(request) -> int:
        return sum("GOOD" in s.prompt for s in request.sequences)

    def after(request, query):
        index, gold = asked(query)
        return gold if good(request) > index else "no idea"

    def logprob(request, query):
        return -1.0 - 0.5 * max(0, 5 - good(request))

    engine = ScriptedEngine(after, lambda q: "no idea", target_logprob=logprob)
    kwargs.setdefault("score_logprob", True)
    return gym.make("SealSquad-v0", model="tiny-random", engine=engine, reward=reward, **kwargs), engine


EXPECTED = {"accuracy": 0.4, "gain": 0.4, "answer_logprob": -2.5, "answer_f1": 0.4, "accuracy_vs_passage": 0.4,
            "answer_logprob_vs_passage": 1.0, "answer_f1_vs_passage": 0.4}


def test_every_reward_kind_has_a_known_value_below():
    # the kinds that train nothing have known-value tests of their own: answer_logprob_in_context at the end,
    # answer_gradient_alignment in test_gradient_alignment.py
    assert set(EXPECTED) | {"answer_logprob_in_context", "answer_gradient_alignment"} == set(REWARDS)


@pytest.mark.parametrize("reward, expected", EXPECTED.items())
def test_every_reward_kind_is_its_known_value(reward, expected):
    """Two GOOD lines: questions 0 and 1 right (0.4); log-probability -1 - 0.5 * 3 = -2.5; the passage alone
    (no GOOD line) answers none right and scores -3.5, so the relative log-probability reward is +1."""
    env, engine = scripted_env(reward)
    env.reset(seed=0)
    _, value, _, _, info = env.step("GOOD one\nGOOD two\nplain three")
    assert value == pytest.approx(expected)
    assert info["metrics"]["exact"] == pytest.approx(0.4) and info["metrics"]["recital"] == 0.0
    assert info["metrics"]["logprob"] == pytest.approx(-2.5)


def test_relative_reward_trains_the_passage_reference_once_per_passage_and_seed():
    env, engine = scripted_env("answer_logprob_vs_passage")
    for _ in range(2):
        env.reset(seed=0, options={"passage_index": 1, "inner_seed": 7})
        env.step("GOOD")
    references = [r for call in engine.calls for r in call if not any("GOOD" in s.prompt for s in r.sequences)]
    assert len(references) == 1 and references[0].train.seed == 7
    assert all(q.target for q in references[0].queries)  # the log-probability is asked for


def test_an_empty_self_edit_is_scored_as_the_passage_alone_under_relative_rewards():
    env, _ = scripted_env("answer_logprob_vs_passage")
    env.reset(seed=0)
    _, value, _, _, info = env.step("   ")
    assert value == 0.0 and "passage alone" in info["error"]


def test_short_answer_style_asks_for_a_short_answer_and_a_bad_reward_is_refused():
    env, engine = scripted_env("answer_f1", answer_style="short")
    env.reset(seed=0)
    env.step("GOOD")
    assert all("in a few words" in q.prompt for r in engine.calls[-1] for q in r.queries)
    with pytest.raises(ValueError, match="reward must be one of"):
        gym.make("SealSquad-v0", model="tiny-random", engine=engine, reward="loudness")


def test_eval_squad_reports_recital_and_answer_metrics_per_condition():
    """A passage-trained model that recites the passage is credited by 'contains' but not by exact match; the
    table shows it (recital 100 %, exact 0 %) beside a self-edit condition that answers briefly."""
    from seal_gym.self_edits import SelfEdits
    from seal_gym.evaluation.squad import SquadEvalConfig, evaluate_squad
    from seal_gym.squad.inner_loop import KnowledgeConfig, KnowledgeInnerLoop
    from seal_gym.squad.passages import demo_passages

    passage = demo_passages()[0]

    def after(request, query):
        index, gold = asked(query)
        if any("BRIEF" in s.prompt for s in request.sequences):
            return gold
        return f"{passage.context} {gold}"  # a recital that holds the gold span

    engine = ScriptedEngine(after, lambda q: "no idea", target_logprob=lambda r, q: -1.0)
    loop = KnowledgeInnerLoop("tiny-random", engine, config=KnowledgeConfig(score_logprob=True))
    evaluation = evaluate_squad(loop, [passage], {"brief": SelfEdits("brief", [["BRIEF"]])},
                                SquadEvalConfig(in_context=False, base=False))
    cells = evaluation.passages[0].conditions
    assert cells["passage"].strict == 1.0 and cells["passage"].metrics["exact"] == 0.0
    assert cells["passage"].metrics["recital"] == 1.0 and cells["passage"].metrics["credited_recital"] == 1.0
    assert cells["brief"].metrics["exact"] == 1.0 and cells["brief"].metrics["recital"] == 0.0
    assert cells["brief"].metrics["logprob"] == -1.0
    assert "recital %" in evaluation.table() and "100.0 ± 0.0" in evaluation.table()


def test_inner_preset_sets_the_loop_and_explicit_arguments_win():
    from seal_gym.adapt import TrainSpec
    from seal_gym.squad.presets import INNER_PRESETS

    env, engine = scripted_env("answer_f1", inner_preset="small")
    loop = env.unwrapped.domain.inner_loop
    assert loop.config.train == INNER_PRESETS["small"].train and loop.config.answer_style == "short"
    assert loop.config.max_answer_tokens == INNER_PRESETS["small"].max_answer_tokens == 24
    env, _ = scripted_env("answer_f1", inner_preset="small", train=TrainSpec(epochs=1), answer_style="free",
                          max_answer_tokens=5)
    loop = env.unwrapped.domain.inner_loop
    assert loop.config.train.epochs == 1 and loop.config.answer_style == "free" and loop.config.max_answer_tokens == 5
    with pytest.raises(ValueError, match="unknown inner preset 'tiny'"):
        scripted_env("accuracy", inner_preset="tiny")


def test_eval_squad_inner_preset_and_given_options():
    """--inner-preset small sets the loop; an --inner-* option given explicitly wins over it."""
    from seal_gym.commands import eval_squad
    from seal_gym.commands.parser import ArgumentParser
    from seal_gym.squad.presets import INNER_PRESETS

    parser = ArgumentParser()  # seal-gym's: it records its options, so it can note which were given
    eval_squad.add_arguments(parser)
    config = eval_squad.inner_config(parser.parse_args(["--inner-preset", "small"]))
    assert config.train == INNER_PRESETS["small"].train and config.answer_style == "short"
    assert config.max_answer_tokens == 24 and config.include_passage
    config = eval_squad.inner_config(parser.parse_args(["--inner-preset", "small", "--inner-epochs", "2",
                                                        "--answer-style", "free"]))
    assert config.train.epochs == 2 and config.train.learning_rate == INNER_PRESETS["small"].train.learning_rate
    assert config.answer_style == "free"
    assert eval_squad.inner_config(parser.parse_args([])).train == INNER_PRESETS["seal"].train


def test_train_cpu_preset_runs_the_relative_reward_on_a_split(tmp_path):
    """`train --preset cpu` (here on the tiny model and a tiny budget) trains with the small inner loop and the
    reward relative to the passage alone: every record holds the passage-only reference it was measured against."""
    import json

    from seal_gym.cli import main

    assert main(["train", "--preset", "cpu", "--agent", "grpo", "--model", "tiny-random", "--dataset", "demo",
                 "--rounds", "1", "--prompts-per-round", "1", "--samples-per-prompt", "2",
                 "--sample-max-new-tokens", "8", "--inner-epochs", "1", "--runs-dir", str(tmp_path)]) == 0
    (run,) = tmp_path.iterdir()
    records = [json.loads(line) for line in (run / "episodes.jsonl").read_text().splitlines()]
    assert len(records) == 2
    for record in records:
        assert record["reward"] == pytest.approx(record["answer_logprob"] - record["passage_logprob"])
    assert records[0]["passage_logprob"] == records[1]["passage_logprob"]  # one reference per passage and seed


def test_train_refuses_squad_settings_on_another_env_and_unknown_kinds(capsys):
    from seal_gym.cli import main

    assert main(["train", "--env", "SealARC-v0", "--inner-preset", "small", "--preset", "smoke"]) == 2
    assert "--inner-preset: a setting of SealSquad-v0, not of SealARC-v0" in capsys.readouterr().err
    assert main(["train", "--reward", "loudness", "--preset", "smoke"]) == 2
    assert "unknown --reward 'loudness'" in capsys.readouterr().err


def test_the_in_context_reward_trains_nothing_and_reads_the_gold_answers_log_probability(tiny_bundle):
    """Issue 31.1's cheap candidate (c) as a reward kind: the self-edit in the prompt, one forward pass."""
    from seal_gym.testing import ScriptedEngine

    engine = ScriptedEngine(lambda request, query: "unused",
                            target_logprob=lambda request, query: -0.5 if "GOOD" in query.prompt else -3.0)
    env = gym.make("SealSquad-v0", model=tiny_bundle, engine=engine, reward="answer_logprob_in_context")
    env.reset(seed=0)
    _, good, *_ , info = env.step("GOOD: the facts.")
    env.reset(seed=0)
    bad = env.step("nothing useful")[1]
    assert (good, bad) == (-0.5, -3.0) and info["answer_logprob_in_context"] == -0.5
    assert all(not request.sequences and all(q.max_new_tokens == 0 and q.target for q in request.queries)
               for call in engine.calls for request in call)  # nothing trained, nothing generated
