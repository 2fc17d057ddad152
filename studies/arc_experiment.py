"""The SealARC experiment (studies/arc_experiment/PLAN.md), stage by stage, every stage resumable.

1. ``choose``: PLAN.md's decisions 1-3 from the spread folder (``--spread``) and the ranking check's candidate folder
   (``--ranking-candidate``): the qualifying families (else ``easy``), the TTT settings, the number of held-out tasks
   with the power formula and its inputs, into ``OUT/choice.json``; the suite into ``OUT/suite.json``
   (arc_experiment_choice.py).
2. ``warm``: the random-recipe search on the suite's train split and one SFT round on its successes, published to
   ``OUT/writers/warm``; the search's seconds per adapter are the measured step time (arc_experiment_training.py).
3. ``train``: ReST-EM from the warm writer (reward ``success``), GRPO (reward ``answer_logprob_vs_default``) and SB3's
   PPO on SealARCStructured-v0 (reward ``success``), rounds fixed once from the step time so that each fits
   ``--budget-hours`` with the same inner loops; each run resumable, published to ``OUT/writers/AGENT-seedS``.
4. ``eval``: one ``seal-gym eval arc`` run per condition group on the held-out split, TTT seeds 0 and 1, every
   adapter alone in its engine call (arc_experiment_eval.py).
5. ``report``: the primary test per agent, the secondary tests and the paper-shaped table, into ``OUT/report.json``
   and printed as Markdown (arc_experiment_report.py).

A new training run refuses a checkout with uncommitted changes unless ``--allow-dirty``. The suite's runs name it
(``suite:spread:train``): they run through ``studies/arc_suite_cli.py``, which registers ``OUT/suite.json`` first.
studies/arc_experiment/NEXT.md gives the commands.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from arc_experiment_runs import AGENTS, load_choice, read_json, write_json  # noqa: E402
from study_runs import names  # noqa: E402

STAGES = ("choose", "warm", "train", "eval", "report")


def choose(out: Path, args: argparse.Namespace) -> dict:
    """Write choice.json and suite.json; refuse to change them once a later stage has started."""
    from arc_experiment_choice import choose as decide

    choice = json.loads(json.dumps(decide(args.spread, args.spread_recipes, args.spread_seeds, args.ranking_candidate,
                                          args.ranking_reference)))  # as the later stages read it back
    earlier = read_json(out / "choice.json")
    started = (out / "state.json").exists()
    differs = json.dumps(earlier, sort_keys=True) != json.dumps(choice, sort_keys=True)  # NaN != NaN: compare text
    if earlier is not None and started and differs:
        raise SystemExit(f"{out / 'choice.json'} exists and later stages have started from it ({out / 'state.json'}); "
                         "the new choice differs: use another --out, or remove both on purpose")
    write_json(out / "choice.json", choice)
    write_json(out / "suite.json", {"name": choice["name"], "suite": choice["suite"]})
    return choice


def main(argv: list[str] | None = None, loop=None) -> dict | None:
    """Run one stage; ``loop`` replaces the warm search's inner loop (tests)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the experiment's folder (studies/arc_experiment)")
    parser.add_argument("--stage", choices=STAGES, required=True)
    parser.add_argument("--spread", type=Path, default=None,
                        help="choose: the recipe-spread folder (arc_recipe_spread.py --recipes 6 --seeds 2)")
    parser.add_argument("--spread-recipes", type=int, default=6, help="choose: the spread's --recipes")
    parser.add_argument("--spread-seeds", type=int, default=2, help="choose: the spread's --seeds")
    parser.add_argument("--ranking-candidate", type=Path, default=None,
                        help="choose: the spread folder under the cheaper TTT settings (absent: the cpu preset)")
    parser.add_argument("--ranking-reference", type=Path, default=None,
                        help="choose: the folder the candidate is compared with (default: --spread)")
    parser.add_argument("--search-tasks", type=int, default=20, help="warm: train-split tasks searched")
    parser.add_argument("--search-recipes", type=int, default=8, help="warm: grid recipes drawn per task")
    parser.add_argument("--search-seeds", type=int, default=2, help="warm: TTT seeds per recipe")
    parser.add_argument("--agents", default=",".join(AGENTS), help="train: the agents to train now")
    parser.add_argument("--train-seeds", default="0", help="train: the training seeds, e.g. '1,2'")
    parser.add_argument("--budget-hours", type=float, default=2.0, help="train: each agent's budget, fixing the rounds")
    parser.add_argument("--step-seconds", type=float, default=None,
                        help="train: seconds an inner loop takes (default: the warm search's seconds per adapter)")
    parser.add_argument("--preset", default="demo",
                        help="warm, train: the seal-gym train preset (smoke: the tiny model)")
    parser.add_argument("--model", default=None, help="warm's search, eval: the model (default: the embedded one)")
    parser.add_argument("--groups", default="", help="eval: run only these groups now (default: every group)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--allow-dirty", action="store_true",
                        help="warm, train: start runs from a checkout with uncommitted changes (each keeps its diff)")
    args = parser.parse_args(argv)
    if args.stage == "choose" and args.spread is None:
        parser.error("--stage choose needs --spread (the recipe-spread folder)")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.stage == "choose":
        choice = choose(args.out, args)
        held = choice["heldout"]
        print(f"{choice['note']}; TTT: {choice['ttt']['setting']} ({choice['ttt']['why']}); held-out tasks: "
              f"{held['tasks']} (needed {held['needed']}, ICC {held['icc']:.2f}, detectable difference "
              f"{held['detectable_effect']:.2f})")
        return choice
    choice = load_choice(args.out)
    if args.stage == "warm":
        from arc_experiment_training import warm

        return warm(args.out, choice, args.search_tasks, args.search_recipes, args.search_seeds, args.threads,
                    args.preset, args.allow_dirty, loop, args.model)
    if args.stage == "train":
        from arc_experiment_training import train

        return train(args.out, choice, names(args.agents), [int(s) for s in names(args.train_seeds)], args.threads,
                     args.preset, args.allow_dirty, args.step_seconds, args.budget_hours)
    from arc_experiment_eval import evaluate
    from arc_experiment_report import markdown, report

    results = evaluate(args.out, choice, args.threads, set(names(args.groups)) or None, args.model) \
        if args.stage == "eval" else evaluate(args.out, choice, args.threads, only=set())
    result = report(args.out, results, choice, read_json(args.out / "state.json", {}))
    print(markdown(result))
    return result


if __name__ == "__main__":
    main()
