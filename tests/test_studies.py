"""The SQuAD passage studies (studies/science.py and the scripts on it): their arithmetic on rows whose answers
are known, and each study's small twin: the regime search on a scripted engine whose best regime is known, the SNR
study on the tiny model.

The other studies' twins: tests/test_study_stages.py (the optimizer comparison and its replication),
tests/test_arc_studies.py (the ARC recipe spread and ranking check), tests/test_arc_demonstrations.py and
tests/test_agent_studies.py (the agents on ARC and on the testbeds, ReST-EM's stability)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "studies"))

from science import Regime, Results, paired_table, per_passage  # noqa: E402
from snr_study import components  # noqa: E402


def test_variance_components_of_a_known_table():
    """Two self-edits at 0 and 1, each trained with two seeds at +-0.1: s2_seed = 0.02, s2_edit = 0.49."""
    table = np.array([[[0.1, -0.1], [1.1, 0.9]]] * 3)
    s2_edit, s2_seed = components(table)
    assert s2_seed == pytest.approx(0.02) and s2_edit == pytest.approx(0.49)
    assert components(np.zeros((2, 3, 2)) + np.array([0.0, 1.0]))[0] == 0.0  # only seed noise: no edit variance


def test_paired_table_pairs_by_passage_and_resumes(tmp_path):
    results = Results(tmp_path / "results.jsonl")
    name = Regime().name
    for passage, (a, b) in enumerate([(1.0, 0.5), (0.8, 0.3), (0.6, 0.1)]):
        results.add({"regime": name, "condition": "7b", "passage": passage, "seed": 1000 + passage, "logprob": a})
        results.add({"regime": name, "condition": "passage", "passage": passage, "seed": 1000 + passage, "logprob": b})
    again = Results(tmp_path / "results.jsonl")  # what a resumed study reads back
    assert (name, "7b", 2, 1002) in again.done and len(again.rows) == 6
    assert per_passage(again.rows, name, "7b", "logprob") == {0: 1.0, 1: 0.8, 2: 0.6}
    table = paired_table(again.rows, [(name, "7b", "passage")], metrics=("logprob",))
    assert "+0.50 [+0.50, +0.50]" in table  # a constant difference: a zero-width interval


def test_own_self_edits_are_read_back_from_the_cache_without_sampling(tmp_path):
    """A cached passage is never sampled again (the "model" here is no model: sampling would raise); one-text
    entries of the first cache format read as one-item lists."""
    from science import own_self_edits
    from seal_gym.squad.passages import demo_passages

    cache = tmp_path / "own.json"
    cache.write_text('{"implications": {"0": "Alpha.", "1": ["Beta.", "Gamma."]}}')
    passages = list(enumerate(demo_passages()[:2]))
    no_model = object()
    assert own_self_edits(no_model, passages, cache) == {0: ["Alpha."], 1: ["Beta."]}
    with pytest.raises(TypeError, match="model must be"):  # passage 0 has one text, two are asked: it samples
        own_self_edits(no_model, passages, cache, n=2)


def test_snr_report_on_a_known_table():
    """The table above as study rows: ICC 0.49 / 0.51 = 0.96, 4 x 0.02 / 0.49 -> 1 seed for a reliability of 0.8,
    and 2 x 2.8016^2 x 0.51 / (0.49 / 4) = 65.4 -> 66 passages for a paired comparison of two writers."""
    from snr_study import report

    rows = [{"regime": "r", "condition": f"edit{k}", "passage": i, "seed": s, "logprob": k + (0.1 if s == 0 else -0.1)}
            for i in range(3) for k in range(2) for s in range(2)]
    rows += [{"regime": "r", "condition": "passage", "passage": i, "seed": s, "logprob": 0.0} for i in range(3) for s in range(2)]
    text = report(rows, "r", [0, 1, 2], edits=2, seeds=2)
    line = next(row for row in text.splitlines() if row.startswith("logprob "))
    assert line.split()[-3:] == ["0.96", "1", "66"]
    assert "accuracy" not in text  # kinds with no rows are left out, not reported as zeros


def test_snr_study_scores_every_self_edit_under_every_seed_and_resumes(tmp_path, capsys):
    """Every (self-edit, seed) adapter and the passage's under each seed, one row each; a rerun trains nothing."""
    from snr_study import main

    argv = ["--out", str(tmp_path), "--dataset", "demo", "--passages", "1", "--self-edits", "2", "--seeds", "2",
            "--model", "tiny-random", "--threads", "1"]
    main(argv)
    rows = Results(tmp_path / "results.jsonl").rows
    assert sorted((r["condition"], r["seed"]) for r in rows) == [(c, s) for c in ("edit0", "edit1", "passage")
                                                                 for s in (0, 1)]
    assert len(json.loads((tmp_path / "own_self_edits.json").read_text())["implications"]["0"]) == 2
    assert next(line for line in capsys.readouterr().out.splitlines() if line.startswith("logprob "))
    main(argv)
    assert len(Results(tmp_path / "results.jsonl").rows) == 6


LEARNING_RATE_GAIN = {1e-3: 1.0, 3e-4: 2.0, 1e-4: 0.5}


def regime_gain(request, query) -> float:
    """The gold answers' log-probability after training: -1, plus (for a self-edit that says GOOD, the file's
    "7B" ones) a gain that is largest at lr 3e-4, halves at 3 epochs and grows by half at rank 8."""
    if not any("GOOD" in s.prompt for s in request.sequences):
        return -1.0
    gain = LEARNING_RATE_GAIN[request.train.learning_rate] * (1.0 if request.train.epochs == 10 else 0.5)
    return -1.0 + gain * (1.5 if request.lora.rank == 8 else 1.0)


def test_regime_study_finds_the_regime_with_the_widest_margin_and_resumes(tmp_path):
    """On a scripted engine, the search keeps lr 3e-4 from the first stage and rank 8 from the single changes;
    a candidate that falls behind on the screening passage is not run on the others; a rerun trains nothing."""
    import regime_study
    from seal_gym.squad.passages import demo_passages
    from seal_gym.testing import ScriptedEngine

    dataset = tmp_path / "train.json"
    dataset.write_text(json.dumps([{"title": p.title, "context": p.context, "completions": ["- GOOD: a fact.\n- GOOD."],
                                    "questions": [{"question": q.question, "answer": q.answer} for q in p.questions]}
                                   for p in demo_passages()]))
    engine = ScriptedEngine(lambda request, query: "", target_logprob=regime_gain)
    argv = ["--out", str(tmp_path / "study"), "--dataset", str(dataset), "--passages", "2", "--screen", "1",
            "--model", "tiny-random", "--threads", "1"]
    regime_study.main(argv, engine=engine)
    chosen = json.loads((tmp_path / "study" / "chosen.json").read_text())
    assert chosen["settings"] == asdict(Regime(lr=3e-4, rank=8))
    rows = Results(tmp_path / "study" / "results.jsonl").rows
    passages = lambda regime: {r["passage"] for r in rows if r["regime"] == regime.name}  # noqa: E731
    screened_out = Regime(lr=1e-4)
    assert len(passages(screened_out)) == 1 and len(passages(Regime(lr=3e-4, rank=8))) == 2
    assert {"own-rewrite", "own-self-qa"} <= {r["condition"] for r in rows if r["regime"] == chosen["regime"]}
    calls = len(engine.calls)
    regime_study.main(argv, engine=engine)
    assert len(engine.calls) == calls


# The tiny model gives every self-edit in its prompt the same score: the in-context candidate's correlation is
# undefined there (scipy warns), and only the scripted short candidate's is known.
@pytest.mark.filterwarnings("ignore:An input array is constant")
def test_cheap_rewards_ranks_self_edits_against_the_snr_studys_full_reward(tmp_path):
    """A stand-in SNR study whose full reward of self-edit k is k (the passage alone: 2.5) and a scripted engine
    whose short inner loop scores a self-edit by its number of GOODs (k): the short candidate ranks every
    passage's self-edits as the full reward does (Spearman 1), and the passage beats 3 of the 6 self-edits."""
    import cheap_rewards
    from science import SEAL, study_passages
    from seal_gym.testing import ScriptedEngine

    snr = tmp_path / "snr"
    snr.mkdir()
    passages = [i for i, _ in study_passages("demo", "tune", 2)]
    own = {str(i): [" ".join(["GOOD"] * k) + " a fact." for k in range(6)] for i in passages}
    (snr / "own_self_edits.json").write_text(json.dumps({"implications": own}))
    rows = [{"regime": SEAL.name, "condition": condition, "passage": i, "seed": s, "logprob": value,
             "train_seconds": 40.0, "answer_seconds": 5.0}
            for i in passages for s in range(3)
            for condition, value in [*((f"edit{k}", float(k)) for k in range(6)), ("passage", 2.5)]]
    (snr / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    def goods(request, query) -> float:
        return float(sum(s.prompt.count("GOOD") for s in request.sequences))

    report = cheap_rewards.main(["--snr", str(snr), "--dataset", "demo", "--passages", "2", "--out", str(tmp_path),
                                 "--model", "tiny-random", "--threads", "1", "--resamples", "100"],
                                engine=ScriptedEngine(lambda request, query: "", target_logprob=goods))
    short = report["candidates"]["short"]
    assert short["spearman_per_passage"] == [1.0, 1.0] and short["interval"] == [1.0, 1.0]
    assert report["full_seconds_per_reward"] == 45.0 and report["full_passage_above_self_edit"] == 0.5
    assert json.loads((tmp_path / "report.json").read_text())["candidates"]["short"] == short


def test_rest_em_stability_appends_each_run_and_skips_it_on_a_rerun(tmp_path, monkeypatch):
    import rest_em_stability as study

    from seal_gym.runs import git_commit

    out, calls = tmp_path / "runs.jsonl", []

    def run(setting, reward, seed, agent_seed, rounds, margin, kind):
        calls.append(reward)
        return {"means": [0.1, 0.2], "rose": True, "collapsed": False, "seconds": 0.0}

    monkeypatch.setattr(study, "run", run)
    argv = ["--settings", "no-merge", "--rewards", "alnum", "vowels", "--seeds", "0", "--agent-seeds", "0",
            "--rounds", "1", "--out", str(out)]
    first = study.main(argv)
    assert calls == ["alnum", "vowels"] and len(out.read_text().splitlines()) == 2
    assert all(row["code"] == git_commit() for row in first)  # the code each run ran, on record
    out.write_text(out.read_text().splitlines()[0] + "\n")  # as if stopped after the first run
    assert study.main(argv) == first and calls == ["alnum", "vowels", "vowels"]  # only the missing run again
    assert study.main([*argv[:-4], "--rounds", "2", "--out", str(out)]) and calls[-2:] == ["alnum", "vowels"]


def test_rest_em_stability_table_pairs_each_setting_with_the_first_by_reward_and_seed():
    """The analysis the plan fixed: finals paired by reward x policy seed x agent seed, against the first setting."""
    import rest_em_stability as study

    def row(setting, reward, seed, means, rose=True):
        return {"setting": setting, "reward": reward, "seed": seed, "agent_seed": 0, "means": means, "rose": rose,
                "collapsed": False}

    rows = [row("merge", "vowels", 0, [0.1, 0.2]), row("merge", "vowels", 1, [0.1, 0.4]),
            row("merge", "upper", 0, [0.1, 0.1], rose=False),
            row("no-merge", "upper", 0, [0.1, 0.4]), row("no-merge", "vowels", 1, [0.1, 0.7]),
            row("no-merge", "vowels", 0, [0.1, 0.5])]  # another order: pairs are found by key, not position
    lines = study.table(rows, ["merge", "no-merge"], ["vowels", "upper"]).splitlines()
    assert lines[2] == "| merge | 2/3 | 0 | 0.20 (0.23) |  | 0.10→0.20, 0.10→0.40 | 0.10→0.10 |"
    assert lines[3].startswith("| no-merge | 3/3 | 0 | 0.50 (0.53) | +0.30 [+0.30, +0.30], p 0.25 (n 3) |")
