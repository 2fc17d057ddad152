"""Constrained decoding: a policy restricted to a finite set writes only members, scores them as a distribution,
and an agent still learns which member pays; identical ARC recipes are trained once."""

from __future__ import annotations

import math
import string

import numpy as np
import pytest
import torch

from seal_gym.agents import GRPO, GRPOConfig, LMPolicy, SamplingConfig
from seal_gym.agents.presets import TESTBED_AGENTS, TESTBED_LORA
from seal_gym.arc.generator import generate_task
from seal_gym.arc.inner_loop import ArcInnerLoop, ArcItem
from seal_gym.arc.recipe import Recipe, read_recipe, recipe_grid
from seal_gym.envs.arc_structured import SealARCStructuredEnv
from seal_gym.models import load_model
from seal_gym.testing import ScriptedEngine, TargetCharEnv

WORDS = ["apple", "apricot", "a1b2c3", "banana"]


@pytest.fixture
def words(monkeypatch):
    from seal_gym.domain_spec import DomainSpec
    from seal_gym.registration import USER_DOMAINS

    monkeypatch.setitem(USER_DOMAINS, "words", DomainSpec("words", (), choices={"test-words": lambda: list(WORDS)}))
    return "test-words"


def policy(choices: str, seed: int = 0, temperature: float = 1.0) -> LMPolicy:
    # A fresh model each time: a policy installs its adapter in the model it is given.
    # The testbed's adapter (lm_head included): on the random tiny model a known reward is learnable with it.
    return LMPolicy(load_model("tiny-random"), SamplingConfig(temperature=temperature, max_new_tokens=400,
                                                              choices=choices), TESTBED_LORA, seed=seed)


def test_samples_are_members_and_an_unconstrained_policy_is_not(words):
    prompts = ["Pick a fruit.", "Another one:"]
    constrained = policy(words).sample(prompts, 8)
    assert {c.text for c in constrained} <= set(WORDS)
    assert len({c.text for c in constrained}) > 1  # it samples, it does not collapse onto one path
    free = LMPolicy(load_model("tiny-random"), SamplingConfig(temperature=1.0, max_new_tokens=8)).sample(prompts, 8)
    assert not {c.text for c in free} <= set(WORDS)  # so the check above can fail


def test_scores_are_a_distribution_over_the_set(words):
    p = policy(words)
    completions = [p.encode("Pick a fruit.", w) for w in WORDS]
    with torch.no_grad():
        scores = p.score(completions)
    total = sum(math.exp(float(row[m].sum())) for row, m in zip(scores.logprobs, scores.mask))
    assert total == pytest.approx(1.0, abs=1e-4)
    # Forced positions ("p" after "a" in apple/apricot... "n" in banana) have log-prob 0 and entropy 0.
    banana = scores.logprobs[3][scores.mask[3]]
    assert float(banana[1:].abs().max()) < 1e-6 and float(scores.entropy[3][1:6].max()) < 1e-6


def test_behaviour_logprobs_match_the_constrained_scores(words):
    p = policy(words)
    sampled = p.sample(["Pick a fruit."], 4)
    for completion, row in zip(sampled, p.logprobs(sampled)):
        assert completion.logprobs == pytest.approx(row, abs=1e-5)
        assert all(x <= 1e-6 for x in row)


def test_grpo_learns_the_member_that_pays(words):
    """TargetCharEnv(digits) pays 0.5 for "a1b2c3" and 0 for the rest: GRPO must move mass onto it."""
    p = policy(words, seed=1)
    env = TargetCharEnv(string.digits)
    prompt = TargetCharEnv.PROMPTS[0]

    @torch.no_grad()
    def mass() -> float:
        scores = p.score([p.encode(prompt, "a1b2c3")])
        return math.exp(float(scores.logprobs[0][scores.mask[0]].sum()))

    before = mass()
    GRPO(p, env, GRPOConfig(prompts_per_round=2, samples_per_prompt=8, seed=0, **TESTBED_AGENTS["grpo"])).learn(4)
    assert mass() > max(0.6, before + 0.3), (before, mass())


def test_an_unknown_choice_set_or_too_few_tokens_is_refused(words):
    with pytest.raises(ValueError, match="unknown choice set 'nope'"):
        SamplingConfig(choices="nope").check_choices()
    with pytest.raises(ValueError, match="unknown choice set 'nope'"):
        LMPolicy(load_model("tiny-random"), SamplingConfig(choices="nope"))
    with pytest.raises(ValueError, match=r"max_new_tokens=7 cuts off members .*longest is 8 tokens"):
        LMPolicy(load_model("tiny-random"), SamplingConfig(max_new_tokens=7, choices=words))  # "apricot" + end


def test_arc_recipe_choices_are_valid_recipes_on_the_grid():
    grid = {r.to_json() for r in recipe_grid()}
    texts = [c.text for c in policy("arc-recipes", temperature=1.5).sample(["Write a recipe."], 6, logprobs=False)]
    assert set(texts) <= grid
    assert all(isinstance(read_recipe(t).recipe, Recipe) for t in texts)


def test_recipe_grid_is_in_the_structured_action_order(tiny_bundle):
    env = SealARCStructuredEnv(model=tiny_bundle, engine=ScriptedEngine(lambda request, query: "0"))
    nvec = env.action_space.nvec
    actions = np.array(np.meshgrid(*[np.arange(n) for n in nvec], indexing="ij")).reshape(len(nvec), -1).T
    assert [env.recipe(a) for a in actions] == recipe_grid()


def test_identical_arc_items_are_trained_once(tiny_bundle):
    task, other = generate_task(0), generate_task(1)
    engine = ScriptedEngine(lambda request, query: "0")
    loop = ArcInnerLoop(tiny_bundle, engine, {"max_examples": 4, "max_new_tokens": 8, "leave_out": (1,)})
    fast = Recipe(learning_rate=1e-3).to_json()
    flat_fast = fast.replace('{"data_generation": {', "{").replace('}, "training": {', ", ").replace("}}", "}")
    items = [ArcItem(task, fast, 0), ArcItem(task, flat_fast, 0), ArcItem(task, fast, 1), ArcItem(other, fast, 0),
             ArcItem(task, Recipe(learning_rate=1e-4).to_json(), 0), ArcItem(task, fast + " trailing", 0)]
    results = loop.run(items)
    assert len(engine.calls) == 1 and len(engine.calls[0]) == 4  # items 1 and 5 repeat item 0
    assert results[1].recipe == results[0].recipe and results[1].num_optimizer_steps == results[0].num_optimizer_steps
    assert results[1].train_seconds == 0.0 and results[1] is not results[0]
    assert [r.task_id for r in results] == [i.task.task_id for i in items]
