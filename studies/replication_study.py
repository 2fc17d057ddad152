"""The replication study's held-out stages, as its plan says (studies/replication/PLAN.md).

Training is ``optimizer_experiment.py --stage train --agents grpo --train-seeds 0,1,2`` (it publishes each
writer to ``OUT/writers/grpo-seedS``). Then, per held-out set of ``--squad`` (the folder of SEAL's SQuAD
``train.json`` and ``val.json``; ``topics``: 2 passages of each val.json title; ``heldout``: train.json's held-out
split):

1. ``write``: the untrained writer writes 3 self-edits per passage and each published writer 1, with
   ``seal-gym synthesize`` (seed 0), into ``OUT/self_edits/SET/WRITER.json`` (committed: a few KB each);
2. ``eval``: ``seal-gym eval squad`` in chunks of ``--chunk`` passages, one group of conditions per run folder
   ``OUT/eval/SET/chunk-NNN/GROUP`` (a finished one is not run again): ``reference`` (the passage alone, and on
   ``heldout`` the dataset's 7B self-edits) and one group per writer, every adapter alone in its engine call,
   inner seed 0, the ``small`` inner loop;
3. ``report``: the plan's primary test on ``topics`` (the seed-averaged GRPO writer minus the untrained writer,
   per passage; each seed's own mean difference) and the comparisons with the passage alone, on both sets,
   into ``OUT/report.json``.

    python studies/replication_study.py --out studies/replication --squad ../shared/data/squad --stage write
    python studies/replication_study.py --out studies/replication --squad ../shared/data/squad --stage eval
    python studies/replication_study.py --out studies/replication --stage report
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from study_runs import finished_in, pooled, seal_gym  # noqa: E402

SETS = ("topics", "heldout")
UNTRAINED, UNTRAINED_SELF_EDITS = "untrained", 3
PRIMARY_METRIC = "logprob"


def datasets(squad: Path) -> dict[str, str]:
    """Each held-out set's passages, as ``load_passages`` names them, in the folder of train.json and val.json."""
    return {"topics": f"{squad / 'val.json'}@topics-2", "heldout": f"{squad / 'train.json'}@heldout"}


def writers(out: Path) -> dict[str, Path | None]:
    """``{writer: its published folder}``: the untrained writer (``None``) and every published one."""
    return {UNTRAINED: None, **{p.name: p for p in sorted((out / "writers").glob("*")) if p.is_dir()}}


def documents(out: Path, name: str, dataset: str) -> Path:
    from seal_gym.squad.passages import load_passages

    path = out / "sets" / f"{name}.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([{"title": p.title, "context": p.context} for p in load_passages(dataset)],
                                   indent=1))
    return path


def write(out: Path, sets: dict[str, str], threads: int) -> None:
    """``sets``: each held-out set's passages (:func:`datasets`)."""
    for name, dataset in sets.items():
        docs = documents(out, name, dataset)
        for writer, folder in writers(out).items():
            path = out / "self_edits" / name / f"{writer}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            n = UNTRAINED_SELF_EDITS if folder is None else 1
            args = ["synthesize", str(docs), "--out", str(path), "--n", str(n), "--seed", "0", "--threads",
                    str(threads), *(["--policy", str(folder)] if folder else [])]
            if seal_gym(args, out / "write.log") != 0:
                raise SystemExit(f"seal-gym synthesize for {writer} on {name} failed: see {out / 'write.log'}")


def groups(out: Path, name: str) -> dict[str, list[str]]:
    """Each eval group's conditions (the writers' files as ``file-self-edits-WRITER``)."""
    reference = "passage,file-self-edits" if name == "heldout" else "passage"
    found = {"reference": ["--conditions", reference, "--self-edits", "1"]}
    for path in sorted((out / "self_edits" / name).glob("*.json")):
        n = UNTRAINED_SELF_EDITS if path.stem == UNTRAINED else 1
        found[path.stem] = ["--conditions", "file-self-edits", "--self-edits-file", f"{path.stem}={path}",
                            "--self-edits", str(n)]
    return found


def evaluate(out: Path, sets: dict[str, str], chunk: int, threads: int) -> None:
    """``sets``: each held-out set's passages (:func:`datasets`)."""
    from seal_gym.squad.passages import load_passages

    for name, dataset in sets.items():
        total = len(load_passages(dataset))
        for start in range(0, total, chunk):
            for group, conditions in groups(out, name).items():
                folder = out / "eval" / name / f"chunk-{start:03d}" / group
                if finished_in(folder):
                    continue
                args = ["eval", "squad", "--dataset", dataset, "--start", str(start), "--passages",
                        str(min(chunk, total - start)), "--inner-preset", "small", *conditions, "--inner-seeds", "1",
                        "--seed", "0", "--threads", str(threads), "--groups-per-call", "1", "--adapters-per-call", "1",
                        "--runs-dir", str(folder)]
                if seal_gym(args, out / "eval.log") != 0:
                    raise SystemExit(f"seal-gym eval squad failed ({name} {group} {start}+): see {out / 'eval.log'}")


def seed_averaged(cells: dict, seeds: list[str], reference: str, seed: int = 0) -> dict:
    """The plan's test: per passage, the mean over ``seeds``' conditions minus ``reference``; with each seed's own
    mean difference and interval."""
    from seal_gym.stats import paired_difference

    passages = sorted(set.intersection(*(set(cells[c]) for c in [*seeds, reference])))
    mine = {i: float(np.mean([cells[c][i][PRIMARY_METRIC] for c in seeds])) for i in passages}
    other = {i: cells[reference][i][PRIMARY_METRIC] for i in passages}
    pooled_diff = paired_difference(mine, other, seed=seed)
    per_seed = {c: paired_difference({i: cells[c][i][PRIMARY_METRIC] for i in passages}, other, seed=seed)
                for c in seeds}
    return {"passages": len(passages), "mean": pooled_diff.mean, "low": pooled_diff.low, "high": pooled_diff.high,
            "p_value": pooled_diff.p_value,
            "per_seed": {c: {"mean": d.mean, "low": d.low, "high": d.high} for c, d in per_seed.items()}}


def verdict(test: dict) -> str:
    """The plan's verdict of a seed-averaged test against the untrained writer."""
    if test["low"] > 0 and test["p_value"] < 0.05:
        every = all(s["mean"] > 0 for s in test["per_seed"].values())
        return "learned, replicated" if every else "learned on average, not in every seed"
    return "lower" if test["high"] < 0 else "no measurable difference"


def report(out: Path) -> dict:
    result = {}
    for name in SETS:
        runs = sorted(p for folder in sorted((out / "eval" / name).glob("chunk-*/*")) for p in [finished_in(folder)] if p)
        if not runs:
            continue
        cells, _ = pooled(runs)
        seeds = sorted(c for c in cells if c.startswith("file_self_edits_grpo"))
        section = {"runs": len(runs)}
        if seeds and f"file_self_edits_{UNTRAINED}" in cells:
            section["grpo_minus_untrained"] = seed_averaged(cells, seeds, f"file_self_edits_{UNTRAINED}")
            section["grpo_minus_untrained"]["verdict"] = verdict(section["grpo_minus_untrained"])
        if seeds and "passage" in cells:
            section["grpo_minus_passage"] = seed_averaged(cells, seeds, "passage")
        result[name] = section
    (out / "report.json").write_text(json.dumps(result, indent=1))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the study's folder")
    parser.add_argument("--stage", choices=("write", "eval", "report"), required=True)
    parser.add_argument("--squad", type=Path, default=None,
                        help="the folder of SEAL's SQuAD train.json and val.json; write and eval need it")
    parser.add_argument("--chunk", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.squad is None and args.stage != "report":
        parser.error(f"--stage {args.stage} needs --squad (the folder of SEAL's SQuAD train.json and val.json)")
    if args.stage == "write":
        write(args.out, datasets(args.squad), args.threads)
    elif args.stage == "eval":
        evaluate(args.out, datasets(args.squad), args.chunk, args.threads)
    else:
        print(json.dumps(report(args.out), indent=1))


if __name__ == "__main__":
    main()
