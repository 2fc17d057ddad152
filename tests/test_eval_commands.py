"""`seal-gym eval squad | arc | continual` on the tiny model: run folders, --policy, bad input."""

from __future__ import annotations

import json

import pytest

from seal_gym.cli import main
from seal_gym.models import load_model
from tests.conftest import weights_checksum

FAST = ["--model", "tiny-random", "--inner-epochs", "1", "--threads", "1"]


@pytest.fixture(scope="module")
def policy_run(tmp_path_factory):
    """A real `seal-gym train`-style run folder: two ReST-EM rounds (each merged) on a cheap text env."""
    from seal_gym.agents import LMPolicy, ReSTEM, ReSTEMConfig, SamplingConfig
    from seal_gym.testing import TargetCharEnv

    policy = LMPolicy(load_model("tiny-random"), SamplingConfig(temperature=1.0, max_new_tokens=8), seed=0)
    run = tmp_path_factory.mktemp("train") / "run"
    config = ReSTEMConfig(prompts_per_round=2, samples_per_prompt=2, epochs=1, batch_size=2, learning_rate=5e-2)
    ReSTEM(policy, TargetCharEnv("ab"), config).learn(2, run_dir=run)
    return run


def only_run(runs_dir):
    runs = list(runs_dir.iterdir())
    assert len(runs) == 1
    return runs[0]


def test_eval_squad_cpt_writes_every_output(tmp_path, capsys):
    args = ["eval", "squad", *FAST, "--passages", "2", "--cpt", "2", "--conditions", "base,passage,file-self-edits",
            "--runs-dir", str(tmp_path)]
    assert main(args) == 0
    run = only_run(tmp_path)
    assert {"table.txt", "results.json", "results.csv", "chart.png"} <= {p.name for p in run.iterdir()}
    results = json.loads((run / "results.json").read_text())
    assert results["config"]["cpt"] == 2 and results["metadata"]["torch_threads"] == 1
    assert list(results["labels"]) == ["base", "passage", "file_self_edits"]
    assert {p["group"] for p in results["passages"]} == {0}
    adapter = results["passages"][0]["conditions"]["file_self_edits"]["adapters"][0]
    assert adapter["num_sequences"] > 2  # both passages and their self-edits pooled into one adapter
    assert (run / "results.csv").read_text().count("\n") == 1 + 2 * 3
    assert (run / "chart.png").read_bytes()[:4] == b"\x89PNG"
    assert "the dataset's self-edits" in capsys.readouterr().out


def test_eval_squad_baselines_paired_differences_and_diversity(tmp_path, capsys):
    conditions = "passage,base-self-edits,best-of-n,prompt-ensemble,passage-self-edit"
    args = ["eval", "squad", *FAST, "--passages", "2", "--self-edits", "2", "--max-self-edit-tokens", "8",
            "--conditions", conditions, "--ensemble-styles", "implications,rewrite", "--runs-dir", str(tmp_path)]
    assert main(args) == 0
    run = only_run(tmp_path)
    results = json.loads((run / "results.json").read_text())
    compared = ["base_self_edits", "best_of_n", "prompt_ensemble", "passage_self_edit"]
    assert list(results["labels"]) == ["passage", *compared]
    paired = results["paired"]
    assert paired["reference"] == "passage" and "Wilcoxon" in paired["tests"]
    assert {(line["condition"], line["metric"]) for line in paired["lines"]} >= {(c, "strict") for c in compared}
    assert all("p_value" in line and line["n"] == 2 for line in paired["lines"])
    assert set(results["diversity"]) == set(compared)
    assert results["diversity"]["prompt_ensemble"]["self_edits"] == 4  # 2 passages x 2 self-edits
    best = [p["conditions"]["best_of_n"]["adapters"] for p in results["passages"]]
    assert all(len(adapters) == 1 for adapters in best)  # one self-edit picked of 2, one seed
    assert (run / "paired.csv").read_text().count("\n") == 1 + len(paired["lines"])
    assert (run / "paired.png").read_bytes()[:4] == b"\x89PNG"
    out = capsys.readouterr().out
    assert "paired differences from 'trained on the passage'" in out and "self-edit diversity" in out
    assert "paired differences" in (run / "table.txt").read_text()


def test_eval_continual_passage_only(tmp_path):
    assert main(["eval", "continual", *FAST, "--passages", "2", "--passage-only", "--runs-dir", str(tmp_path)]) == 0
    run = only_run(tmp_path)
    rows = (run / "forgetting.csv").read_text().splitlines()
    assert rows[0].startswith("stream,after,p1 ") and len(rows) == 1 + 3
    assert "later updates" in (run / "table.txt").read_text()
    assert (run / "forgetting.png").read_bytes()[:4] == b"\x89PNG"
    results = json.loads((run / "results.json").read_text())
    assert [s["label"] for s in results["streams"]] == ["passage only"]


def test_trained_policy_is_loaned_and_the_weights_come_back(policy_run):
    from seal_gym.adapt import PolicyAdapter
    from seal_gym.commands.common import trained_policy

    bundle = load_model("tiny-random")
    original = weights_checksum(bundle.model)
    with trained_policy(str(policy_run), bundle) as policy:
        assert policy.adapter.merges == 2 and weights_checksum(bundle.model) != original
        assert len(policy.act(["Go on:"])) == 1
    assert PolicyAdapter.of(bundle.model) is None and weights_checksum(bundle.model) == original


def test_eval_squad_with_a_policy(policy_run, tmp_path):
    args = ["eval", "squad", *FAST, "--passages", "1", "--conditions", "passage", "--policy", str(policy_run),
            "--runs-dir", str(tmp_path)]
    assert main(args) == 0
    results = json.loads((only_run(tmp_path) / "results.json").read_text())
    assert list(results["labels"]) == ["passage", "policy_self_edits"]
    assert len(results["passages"][0]["conditions"]["policy_self_edits"]["adapters"]) == 1


def test_eval_squad_pairs_several_policies_against_several_references(policy_run, tmp_path):
    # The same run twice under two names: the same self-edits, the same inner seeds, so their paired difference
    # is exactly 0 in every metric, while each is paired with the passage too.
    args = ["eval", "squad", *FAST, "--passages", "1", "--conditions", "passage", "--policy", f"a={policy_run}",
            "--policy", f"b={policy_run}", "--reference", "passage,policy-self-edits-a", "--runs-dir", str(tmp_path)]
    assert main(args) == 0
    run = only_run(tmp_path)
    results = json.loads((run / "results.json").read_text())
    assert list(results["labels"]) == ["passage", "policy_self_edits_a", "policy_self_edits_b"]
    cells = results["passages"][0]["conditions"]
    assert [x["self_edit"] for x in cells["policy_self_edits_a"]["adapters"]] == \
        [x["self_edit"] for x in cells["policy_self_edits_b"]["adapters"]]
    by_reference = results["paired_by_reference"]
    assert list(by_reference) == ["passage", "policy_self_edits_a"] and results["paired"] == by_reference["passage"]
    against_a = [line for line in by_reference["policy_self_edits_a"]["lines"] if line["condition"] == "policy_self_edits_b"]
    assert against_a and all(line["mean"] == 0 for line in against_a)
    assert {line["condition"] for line in by_reference["passage"]["lines"]} == {"policy_self_edits_a", "policy_self_edits_b"}
    assert {"paired.png", "paired_vs_policy_self_edits_a.png"} <= {p.name for p in run.iterdir()}


def test_eval_squad_names_saved_writers_and_pairs_across_runs(tmp_path):
    # Two saved writers' files, each its own named condition holding exactly that file's self-edit; and the
    # passage condition scores the same in a later run (same passages, same inner seeds), so an experiment
    # may evaluate writers in separate runs and pair them by passage.
    from seal_gym.squad.passages import load_passages

    passage = load_passages("demo")[0]
    files = {}
    for name, text in (("rest-em", "The first writer's line."), ("ppo", "Another writer, another line.")):
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps([{"context": passage.context, "completions": [text]}]))
    runs = [tmp_path / "one", tmp_path / "two"]
    assert main(["eval", "squad", *FAST, "--dataset", "demo", "--passages", "1", "--conditions", "passage",
                 "--self-edits-file", str(files["rest-em"]), "--self-edits-file", str(files["ppo"]),
                 "--runs-dir", str(runs[0])]) == 0
    assert main(["eval", "squad", *FAST, "--dataset", "demo", "--passages", "1", "--conditions", "passage",
                 "--runs-dir", str(runs[1])]) == 0
    first, second = (json.loads((only_run(r) / "results.json").read_text()) for r in runs)
    assert list(first["labels"]) == ["passage", "file_self_edits_rest_em", "file_self_edits_ppo"]
    assert first["labels"]["file_self_edits_rest_em"] == "passage + rest-em's self-edits"
    cells = first["passages"][0]["conditions"]
    assert [a["self_edit"] for a in cells["file_self_edits_rest_em"]["adapters"]] == ["The first writer's line."]
    assert [a["self_edit"] for a in cells["file_self_edits_ppo"]["adapters"]] == ["Another writer, another line."]
    assert cells["passage"]["metrics"] == second["passages"][0]["conditions"]["passage"]["metrics"]
    assert "logprob" in cells["passage"]["metrics"]


def test_eval_arc_random_and_the_models_own_grid_recipes(tmp_path):
    args = ["eval", "arc", "--model", "tiny-random", "--threads", "1", "--tasks", "1", "--recipes-per-task", "2",
            "--conditions", "random-recipes,base-recipes", "--max-examples", "4", "--runs-dir", str(tmp_path)]
    assert main(args) == 0
    results = json.loads((only_run(tmp_path) / "results.json").read_text())
    assert list(results["labels"]) == ["random_recipes", "base_recipes"]
    runs = results["runs"]
    assert sorted(r["condition"] for r in runs) == ["base_recipes"] * 2 + ["random_recipes"] * 2
    # The random model writes recipes only through constrained decoding (--choices arc-recipes, the default).
    assert all(r["error"] is None for r in runs), [r["error"] for r in runs]


def bad_inputs(tmp_path):
    not_a_run = tmp_path / "not-a-run"
    not_a_run.mkdir()
    no_checkpoint = tmp_path / "no-checkpoint"
    no_checkpoint.mkdir()
    (no_checkpoint / "config.json").write_text(json.dumps({"policy": {"model": "tiny-random"}}))
    no_questions = tmp_path / "no-questions.json"
    no_questions.write_text(json.dumps([{"title": "T", "context": "C", "questions": []}]))
    return {
        "not a run": (["eval", "squad", "--policy", str(not_a_run)], "not a run folder"),
        "no checkpoint": (["eval", "continual", "--policy", str(no_checkpoint)], "no checkpoint"),
        "arc policy": (["eval", "arc", "--policy", str(no_checkpoint)], "no checkpoint"),
        "memory policy": (["eval", "memory", "--windows", "1", "--per-window", "1", "--policy", str(not_a_run)],
                          "not a run folder"),
        "no questions": (["eval", "squad", "--dataset", str(no_questions)], "has no questions"),
        "continual no questions": (["eval", "continual", "--dataset", str(no_questions)], "has no questions"),
        "missing dataset": (["squad-table", "--dataset", str(tmp_path / "nope.json")], "no passage file"),
        "unknown condition": (["eval", "squad", "--conditions", "base,nope"], "unknown condition 'nope'"),
        "policy condition alone": (["eval", "squad", "--conditions", "policy-self-edits"], "needs --policy"),
        "self-edit file misses": (["eval", "squad", "--self-edits-file", str(no_questions)], "no completions"),
        "arc without tasks": (["eval", "arc", "--source", f"kaggle:{tmp_path / 'none'}"], "challenges"),
        "arc unknown choices": (["eval", "arc", "--choices", "nope"], "unknown choice set 'nope'"),
        "arc start past the end": (["eval", "arc", "--source", "suite:easy:heldout", "--start", "1000"],
                                   "no tasks in 'suite:easy:heldout' from --start 1000"),
        "arc negative start": (["eval", "arc", "--start", "-1"], "--start must be >= 0, got -1"),
        "best-of-n alone": (["eval", "squad", "--conditions", "passage,best-of-n"], "add base-self-edits"),
        "best-of-n metric": (["eval", "squad", "--conditions", "base-self-edits,best-of-n", "--best-of-metric", "nope"],
                             "--best-of-metric 'nope'"),
        "reference not run": (["eval", "squad", "--conditions", "base,passage", "--reference", "in-context"],
                              "--reference in-context is not among"),
        "ensemble style": (["eval", "squad", "--conditions", "prompt-ensemble", "--ensemble-styles", "nope"],
                           "unknown prompt style 'nope'"),
        "policies named alike": (["eval", "squad", "--policy", f"x={not_a_run}", "--policy", f"x={no_checkpoint}"],
                                 "both named 'x'"),
        "files named alike": (["eval", "squad", "--self-edits-file", "a/x.json", "--self-edits-file", "b/x.json"],
                              "both named 'x'"),
    }


BAD_CASES = ["not a run", "no checkpoint", "arc policy", "memory policy", "no questions", "continual no questions", "missing dataset",
             "unknown condition", "policy condition alone", "self-edit file misses", "arc without tasks",
             "arc unknown choices", "arc start past the end", "arc negative start", "best-of-n alone", "best-of-n metric", "reference not run", "ensemble style",
             "policies named alike", "files named alike"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, tmp_path, capsys):
    argv, message = bad_inputs(tmp_path)[case]
    runs = tmp_path / "runs"
    assert main([*argv, "--model", "tiny-random", "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and err.startswith(f"seal-gym {argv[0]}")
    assert not runs.exists() or not any(runs.iterdir())


def test_a_stream_on_a_loaned_policy_gives_both_back(policy_run):
    from seal_gym.adapt import LoraSpec, TrainSpec
    from seal_gym.commands.common import trained_policy
    from seal_gym.evaluation import continual_stream
    from seal_gym.squad.inner_loop import KnowledgeConfig, KnowledgeInnerLoop
    from seal_gym.squad.passages import demo_passages

    bundle = load_model("tiny-random")
    original = weights_checksum(bundle.model)
    with trained_policy(str(policy_run), bundle) as policy:
        loaned = weights_checksum(bundle.model)
        loop = KnowledgeInnerLoop(bundle, engine="sequential",
                                  config=KnowledgeConfig(train=TrainSpec(epochs=1), lora=LoraSpec(rank=2, alpha=4)))
        result = continual_stream(loop, demo_passages()[:2], policy.act)
        assert len(result.steps) == 2 and weights_checksum(bundle.model) == loaned
    assert weights_checksum(bundle.model) == original
