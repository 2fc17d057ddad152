"""seal_gym.diversity: known values, and a collapsed set of self-edits scoring below a varied one."""

from __future__ import annotations

import zlib

import pytest

from seal_gym.diversity import compression_ratio, distinct_n, diversity, round_diversity, words


def test_distinct_n_on_known_texts():
    texts = ["The cat sat on the mat.", "the cat ran"]
    # words: the cat sat on the mat | the cat ran
    assert words(texts[0]) == ["the", "cat", "sat", "on", "the", "mat"]
    assert distinct_n(texts, 1) == pytest.approx(6 / 9)  # the, cat, sat, on, mat, ran
    assert distinct_n(texts, 2) == pytest.approx(6 / 7)  # "the cat" twice
    assert distinct_n(texts, 3) == pytest.approx(5 / 5)
    assert distinct_n(["one"], 2) == 0.0  # no bigram at all
    with pytest.raises(ValueError, match="n must be"):
        distinct_n(texts, 0)


def test_compression_ratio_is_zlibs():
    texts = ["alpha beta", "alpha beta gamma"]
    data = "alpha beta\nalpha beta gamma".encode()
    assert compression_ratio(texts) == len(data) / len(zlib.compress(data, 9))
    assert compression_ratio([]) == 0.0


def test_per_prompt_and_round_views_catch_the_two_collapses():
    varied = [["Port Varrow has a green light.", "Its harbour opened in 1820."],
              ["Mount Elda is 3,400 metres high.", "Snow covers Elda until June."]]
    repeats = [["Port Varrow has a green light."] * 2, ["Mount Elda is 3,400 metres high."] * 2]
    template = [["The passage says that Port Varrow is a port."], ["The passage says that Mount Elda is a port."]]
    v, r, t = diversity(varied), diversity(repeats), diversity(template)
    assert r.distinct_2_prompt == pytest.approx(0.5) and v.distinct_2_prompt == 1.0  # samples repeat each other
    assert r.compression_ratio_prompt > v.compression_ratio_prompt
    assert t.distinct_2_prompt == 1.0 and t.distinct_2 < v.distinct_2  # one template for every prompt
    assert v.self_edit_words == pytest.approx((6 + 5 + 7 + 5) / 4)  # "3,400" is two words
    assert v.self_edits == 4


def test_round_diversity_is_a_flat_dict_of_floats_and_skips_empty_prompts():
    scalars = round_diversity([["a b c"], [], ["a b d"]])
    assert set(scalars) >= {"distinct_1", "distinct_2", "distinct_3", "compression_ratio", "self_edit_words"}
    assert all(isinstance(v, float) for v in scalars.values())
    assert scalars["distinct_1"] == pytest.approx(4 / 6) and scalars["distinct_1_prompt"] == 1.0
    assert round_diversity([])["self_edits"] == 0.0


def test_a_prompt_too_short_for_an_ngram_does_not_count_in_its_per_prompt_mean():
    d = diversity([["one two"], ["three four five", "three four five"]])
    assert d.distinct_3_prompt == pytest.approx(0.5)  # only the second prompt has trigrams
    assert d.distinct_1_prompt == pytest.approx((1.0 + 0.5) / 2)


def test_every_training_round_logs_the_diversity_of_its_self_edits_per_prompt():
    import numpy as np

    from seal_gym.agents.policy import Completion
    from seal_gym.agents.rollouts import Rollouts
    from seal_gym.agents.scalars import SCHEMA, rollout_scalars

    texts = ["a b c", "a b c", "d e f", "g h i"]  # prompt 0 repeats itself, prompt 1 does not
    rollouts = Rollouts([Completion("p", t, [], []) for t in texts], np.zeros((2, 2, 1)), [[{}]] * 4, ["0", "1"])
    scalars = rollout_scalars(rollouts, None, [])
    assert scalars["distinct_1_prompt"] == pytest.approx((0.5 + 1.0) / 2)
    assert scalars["distinct_1"] == pytest.approx(9 / 12) and scalars["self_edit_words"] == 3.0
    assert scalars["compression_ratio"] == compression_ratio(texts)
    assert {"charts/distinct_2", "charts/compression_ratio", "charts/self_edit_words"} <= set(SCHEMA)
