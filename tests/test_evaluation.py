"""``evaluate_squad``, its baselines, paired differences and diversity, on scripted engines (known answers).

ARC's evaluation: test_arc_evaluation.py; the continual stream: test_continual_evaluation.py."""

from __future__ import annotations

import dataclasses
import json

import pytest

from seal_gym.adapt import AdaptRequest, LoraSpec, TrainSpec
from seal_gym.evaluation import SelfEdits, SquadEvalConfig, completions_from_file, evaluate_squad, save_png
from seal_gym.squad.inner_loop import KnowledgeConfig, KnowledgeInnerLoop
from seal_gym.squad.passages import demo_passages
from seal_gym.testing import ScriptedEngine

PASSAGES = demo_passages()
GOLD = {qa.question: qa.answer for p in PASSAGES for qa in p.questions}
TINY = KnowledgeConfig(train=TrainSpec(epochs=1), lora=LoraSpec(rank=2, alpha=4))


def gold_for(prompt: str) -> str:
    return next(answer for question, answer in GOLD.items() if question in prompt)


def knows(request: AdaptRequest, prompt: str) -> bool:
    """A scripted adapter knows a passage when a training sequence of that passage (they start with its title)
    says GOOD: pooled (CPT) adapters then know exactly the passages whose self-edit was good."""
    return any(s.prompt.split("\n", 1)[0] in prompt and "GOOD" in s.prompt for s in request.sequences)


def squad_engine() -> ScriptedEngine:
    # Before training: right only with the passage in context (its context text is in the prompt).
    return ScriptedEngine(lambda request, query: gold_for(query.prompt) if knows(request, query.prompt) else "no idea",
                          lambda query: gold_for(query.prompt) if any(p.context in query.prompt for p in PASSAGES)
                          else "no idea")


def test_squad_conditions_average_n_self_edits_times_r_seeds(tiny_bundle):
    engine = squad_engine()
    loop = KnowledgeInnerLoop(tiny_bundle, engine=engine, config=TINY)
    edits = {"writer": SelfEdits("passage + writer", [["GOOD a", "bad b"], ["GOOD"], []])}
    result = evaluate_squad(loop, PASSAGES[:3], edits, SquadEvalConfig(seeds=2, seed=10), first_index=4)
    by_passage = {p.index: p.conditions for p in result.passages}
    assert by_passage[4]["writer"].strict == 0.5 and len(by_passage[4]["writer"].adapters) == 4
    assert by_passage[5]["writer"].strict == 1.0
    assert "writer" not in by_passage[6]  # no self-edit: not scored in that condition
    assert all(c["base"].strict == 0.0 and c["passage"].strict == 0.0 and c["in_context"].strict == 1.0
               for c in by_passage.values())
    assert len(engine.calls) == 1  # 3 passages, up to 4 per engine call (groups_per_call)
    assert sorted({r.train.seed for r in engine.calls[0]}) == [10, 11]
    lines = {line.condition: line for line in result.summary()}
    assert lines["writer"].n == 2 and lines["writer"].strict == pytest.approx(75.0)
    assert lines["writer"].strict_se == pytest.approx(25.0)
    assert list(result.labels) == ["base", "passage", "writer", "in_context"]
    assert "passage + writer" in result.table() and len(result.csv_rows()) == 3 * 4 - 1


def test_cpt_pools_a_group_into_each_adapter_and_asks_all_its_questions(tiny_bundle):
    engine = squad_engine()
    loop = KnowledgeInnerLoop(tiny_bundle, engine=engine, config=TINY)
    edits = {"writer": SelfEdits("w", [["GOOD"], ["bad"], ["GOOD"], ["GOOD"], ["GOOD"]])}
    config = SquadEvalConfig(cpt=2, base=False, in_context=False, groups_per_call=1)
    result = evaluate_squad(loop, PASSAGES[:5], edits, config)
    assert len(engine.calls) == 3  # groups [0, 1], [2, 3], [4], one engine call each
    request = engine.calls[0][1]  # the writer's adapter of the first group
    titles = {s.prompt.split("\n", 1)[0] for s in request.sequences}
    assert titles == {PASSAGES[0].title, PASSAGES[1].title}
    assert len(request.queries) == len(PASSAGES[0].questions) + len(PASSAGES[1].questions)
    assert [p.conditions["writer"].strict for p in result.passages] == [1.0, 0.0, 1.0, 1.0, 1.0]
    assert [p.group for p in result.passages] == [0, 0, 1, 1, 2]


@pytest.mark.parametrize("groups_per_call, calls", [(1, 5), (2, 3), (5, 1)])
def test_groups_per_call_batches_engine_calls_without_changing_scores(tiny_bundle, groups_per_call, calls):
    edits = {"writer": SelfEdits("w", [["GOOD", "bad"], ["bad"], [], ["GOOD"], ["bad", "GOOD"]])}
    scores = []
    for per_call in (1, groups_per_call):
        engine = squad_engine()
        loop = KnowledgeInnerLoop(tiny_bundle, engine=engine, config=TINY)
        config = SquadEvalConfig(seeds=2, base=False, in_context=False, groups_per_call=per_call)
        seen = []
        result = evaluate_squad(loop, PASSAGES[:5], edits, config, first_index=3, on_group=seen.extend)
        scores.append([(p.index, {n: (c.strict, len(c.adapters)) for n, c in p.conditions.items()})
                       for p in result.passages])
        assert [p.index for p in seen] == [3, 4, 5, 6, 7]  # every group reported, in order
    assert len(engine.calls) == calls
    assert scores[0] == scores[1]
    assert [s["writer"] for _, s in scores[1] if "writer" in s] == [(0.5, 4), (0.0, 2), (1.0, 2), (0.5, 4)]


def test_adapters_per_call_1_trains_every_adapter_alone_without_changing_scores(tiny_bundle):
    edits = {"writer": SelfEdits("w", [["GOOD", "bad"], ["bad"], [], ["GOOD"], ["bad", "GOOD"]])}
    scores, sizes = [], []
    for per_call in (None, 1, 3):
        engine = squad_engine()
        loop = KnowledgeInnerLoop(tiny_bundle, engine=engine, config=TINY)
        config = SquadEvalConfig(seeds=2, base=False, in_context=False, groups_per_call=5, adapters_per_call=per_call)
        result = evaluate_squad(loop, PASSAGES[:5], edits, config)
        scores.append([{n: c.strict for n, c in p.conditions.items()} for p in result.passages])
        sizes.append([len(call) for call in engine.calls])
    adapters = 5 * 2 + (2 + 1 + 1 + 2) * 2  # the passage alone + each self-edit, 2 seeds each
    assert sizes == [[adapters], [1] * adapters, [3] * (adapters // 3) + [adapters % 3]]
    assert scores[0] == scores[1] == scores[2]


def test_squad_chart_and_self_edits_from_a_file(tiny_bundle, tmp_path):
    records = [{"title": p.title, "context": p.context, "completions": [f"GOOD {i}", "x", "y"]}
               for i, p in enumerate(PASSAGES[:2])]
    (tmp_path / "edits.json").write_text(json.dumps(records))
    found = completions_from_file(tmp_path / "edits.json", PASSAGES[1:4], n=2)
    assert found == [["GOOD 1", "x"], [], []]
    with pytest.raises(ValueError, match="no completions"):
        completions_from_file(tmp_path / "edits.json", PASSAGES[5:6], n=1)
    (tmp_path / "bad.json").write_text('{"not": "a list"}')
    with pytest.raises(ValueError, match="expected a JSON list"):
        completions_from_file(tmp_path / "bad.json", PASSAGES[:1], n=1)
    loop = KnowledgeInnerLoop(tiny_bundle, engine=squad_engine(), config=TINY)
    result = evaluate_squad(loop, PASSAGES[:2], {"file": SelfEdits("file", [["GOOD"], ["GOOD"]])})
    png = save_png(result.chart("demo, tiny-random"), tmp_path / "chart.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(FileExistsError):
        save_png(result.chart("again"), png)


# --- baselines, paired differences, diversity (scripted engine: known answers) ------------------------------------

def test_best_of_n_picks_each_passages_best_self_edit_from_its_adapters(tiny_bundle):
    from seal_gym.evaluation.best_of_n import with_best_of_n

    engine = squad_engine()
    loop = KnowledgeInnerLoop(tiny_bundle, engine=engine, config=TINY)
    edits = {"own": SelfEdits("own", [["bad", "GOOD 1"], ["GOOD 0", "bad"], ["bad", "bad"]])}
    result = evaluate_squad(loop, PASSAGES[:3], edits, SquadEvalConfig(seeds=2, base=False, in_context=False))
    calls = len(engine.calls)
    best = with_best_of_n(result, "own", label="best of own")
    assert len(engine.calls) == calls  # no extra training: picked from the adapters already scored
    assert list(best.labels) == ["passage", "own", "best_of_n", ] and best.labels["best_of_n"] == "best of own"
    cells = [p.conditions["best_of_n"] for p in best.passages]
    assert [c.strict for c in cells] == [1.0, 1.0, 0.0] and [c.lenient for c in cells] == [1.0, 1.0, 0.0]
    assert [p.conditions["own"].strict for p in best.passages] == [0.5, 0.5, 0.0]
    assert [{a.sample for a in c.adapters} for c in cells] == [{1}, {0}, {0}]  # ties go to the first sample
    assert all(len(c.adapters) == 2 for c in cells)  # both seeds of the picked self-edit
    with pytest.raises(ValueError, match="cannot pick by 'nope'"):
        with_best_of_n(result, "own", by="nope")
    with pytest.raises(ValueError, match="lacks"):
        with_best_of_n(result, "missing")


def test_the_prompt_ensemble_splits_each_self_edit_by_its_own_style(tiny_bundle):
    from seal_gym.self_edits import write_ensemble
    from seal_gym.squad.prompts import PROMPT_STYLES

    def writer(prompts):  # a rewrite (paragraphs, one over two lines) or a list of implications, by prompt
        rewrite = PROMPT_STYLES["rewrite"].template.split("{passage}")[1]
        return ["GOOD rewrite,\nover two lines.\n\nSecond rewrite." if p.endswith(rewrite) else "1. Fact one.\n- Fact two."
                for p in prompts]

    edits = write_ensemble(writer, PASSAGES[:2], 1, "implications", ["implications", "rewrite"])
    assert edits[0] == ["Fact one.\nFact two.\nGOOD rewrite, over two lines.\nSecond rewrite."]
    engine = ScriptedEngine(lambda request, query: "")
    loop = KnowledgeInnerLoop(tiny_bundle, engine=engine, config=TINY)  # the loop splits by lines
    evaluate_squad(loop, PASSAGES[:1], {"ensemble": SelfEdits("e", edits[:1])},
                   SquadEvalConfig(base=False, passage_only=False, in_context=False))
    title = PASSAGES[0].title
    assert [s.prompt for s in engine.calls[0][0].sequences] == [
        f"{title}\nFact one.", f"{title}\nFact two.", f"{title}\nGOOD rewrite, over two lines.",
        f"{title}\nSecond rewrite.", f"{title}\n{PASSAGES[0].context}"]
    # Under a paragraph style the same items come back whole (line breaks inside a rewrite kept).
    paragraphs = write_ensemble(writer, PASSAGES[:1], 1, "rewrite", ["implications", "rewrite"])[0][0]
    assert PROMPT_STYLES["rewrite"].split_items(paragraphs) == [
        "Fact one.", "Fact two.", "GOOD rewrite,\nover two lines.", "Second rewrite."]


def test_the_passage_as_its_own_self_edit_trains_on_the_passage_twice(tiny_bundle):
    from seal_gym.self_edits import passage_self_edits

    engine = ScriptedEngine(lambda request, query: "")
    loop = KnowledgeInnerLoop(tiny_bundle, engine=engine, config=TINY)
    evaluate_squad(loop, PASSAGES[:1], {"p": SelfEdits("p", passage_self_edits(PASSAGES[:1], "implications"))},
                   SquadEvalConfig(base=False, passage_only=False, in_context=False))
    passage = f"{PASSAGES[0].title}\n{' '.join(PASSAGES[0].context.split())}"
    assert [s.prompt for s in engine.calls[0][0].sequences] == [passage, passage]


def test_scripted_baseline_policies_read_the_envs_observations():
    from seal_gym.squad.scripted import PassagePolicy, PromptEnsemblePolicy, parse_prompt
    from seal_gym.squad.prompts import get_prompt_style

    p = PASSAGES[0]
    observation = get_prompt_style("self-qa").render(p.title, p.context)
    assert parse_prompt(observation, "self-qa") == (p.title, p.context)
    assert PassagePolicy("self-qa").act([observation]) == [" ".join(p.context.split())]
    asked = []

    def writer(prompts):
        asked.extend(prompts)
        return ["What is it? A town.\nWho? Odila." if "questions and answers" in q else "One.\n\nTwo." for q in prompts]

    policy = PromptEnsemblePolicy(writer, ["self-qa", "rewrite"], prompt_style="self-qa")
    assert policy.act([observation, observation]) == ["What is it? A town.\nWho? Odila.\nOne.\nTwo."] * 2
    assert asked[1] == get_prompt_style("rewrite").render(p.title, p.context) and len(asked) == 4  # one batch
    with pytest.raises(ValueError, match="not a 'implications' prompt"):
        PassagePolicy().act([observation])


@dataclasses.dataclass
class ScoredCell:
    """A per-passage score with one more metric than strict/lenient, and a dict of further ones."""

    strict: float
    lenient: float
    logprob: float
    metrics: dict = dataclasses.field(default_factory=dict)
    adapters: list = dataclasses.field(default_factory=list)


def test_paired_differences_cover_every_numeric_metric_and_pair_only_shared_passages():
    from scipy import stats

    from seal_gym.evaluation.reports import paired_chart, paired_csv_rows, paired_json, paired_lines, paired_table
    from seal_gym.evaluation.squad import PassageScores, SquadEvaluation

    ref = [ScoredCell(0.2, 0.4, -3.0, {"concise_em": 0.0}), ScoredCell(0.0, 0.2, -2.5, {"concise_em": 0.2}),
           ScoredCell(0.4, 0.4, -2.0, {"concise_em": 0.2}), ScoredCell(0.2, 0.6, -4.0, {"concise_em": 0.0})]
    new = [ScoredCell(0.6, 0.8, -2.0, {"concise_em": 0.4}), ScoredCell(0.2, 0.2, -2.0, {"concise_em": 0.2}),
           ScoredCell(0.6, 0.4, -1.5, {"concise_em": 0.2}), None]  # the last passage lacks the condition
    passages = [PassageScores(i, f"p{i}", i, {"passage": r, **({"writer": w} if w else {})})
                for i, (r, w) in enumerate(zip(ref, new))]
    evaluation = SquadEvaluation({"passage": "trained on the passage", "writer": "passage + writer"}, passages,
                                 SquadEvalConfig())
    lines = {line.metric: line for line in paired_lines(evaluation, "passage")}
    assert set(lines) == {"strict", "lenient", "logprob", "concise_em"}
    strict = lines["strict"].difference
    a, b = [60.0, 20.0, 60.0], [20.0, 0.0, 40.0]  # strict in percentage points, the 3 shared passages
    assert strict.n == 3 and strict.mean == pytest.approx(80 / 3) and lines["strict"].unit == "points"
    assert strict.p_value == pytest.approx(stats.wilcoxon(a, b).pvalue)
    assert strict.p_value_t == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert lines["logprob"].unit == "" and lines["logprob"].difference.mean == pytest.approx(2 / 3)
    assert lines["concise_em"].difference.mean == pytest.approx(40 / 3)
    table = paired_table(list(lines.values()), "trained on the passage")
    assert "Wilcoxon" in table and "t-test" in table and "logprob" in table
    section = paired_json(list(lines.values()), "passage", 0, 10000)
    assert all("p_value" in line for line in section["lines"]) and section["reference"] == "passage"
    assert len(paired_csv_rows(list(lines.values()))) == 4
    assert paired_chart(list(lines.values()), "demo", "trained on the passage").get_axes()
    with pytest.raises(ValueError, match="not in this evaluation"):
        paired_lines(evaluation, "base")


def test_condition_diversity_reads_each_conditions_self_edits(tiny_bundle):
    from seal_gym.evaluation.reports import condition_diversity, diversity_table

    loop = KnowledgeInnerLoop(tiny_bundle, engine=squad_engine(), config=TINY)
    edits = {"same": SelfEdits("same", [["a b c", "a b c"], ["a b c", "a b c"]]),
             "varied": SelfEdits("varied", [["a b c", "d e f"], ["g h i", "j k l"]])}
    result = evaluate_squad(loop, PASSAGES[:2], edits, SquadEvalConfig(seeds=2, base=False, in_context=False))
    found = condition_diversity(result)
    assert set(found) == {"same", "varied"}  # the passage alone has no self-edit to measure
    assert found["same"].self_edits == 4 and found["same"].distinct_1_prompt == 0.5
    assert found["varied"].distinct_1 == 1.0 and found["same"].distinct_1 == pytest.approx(3 / 12)
    assert "distinct-2" in diversity_table(found, result.labels)
