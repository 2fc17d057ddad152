"""Which optimizer makes the model's own self-edits teach it more: the optimizer comparison, resumable by stage.

``--dataset`` is SEAL's SQuAD train.json; its fixed splits (:mod:`seal_gym.squad.splits`) keep training and the
held-out evaluation apart.

1. ``train``: one ``seal-gym train --preset cpu`` run per agent (self mode on SealSquad-v0, the dataset's
   ``train`` split, the small-model inner loop, the cpu preset's reward). A stopped run is resumed
   (``--resume``); its folder is recorded in ``OUT/state.json`` as soon as it exists.
2. ``write``: the untrained writer and each trained one write ``--self-edits`` self-edits for every
   ``heldout`` passage of train.json (which no training round and no tuning saw) with ``seal-gym synthesize``
   into ``OUT/self_edits/WRITER.json``: a few KB of text, committed, so the evaluation needs no checkpoint and
   can run in a later session than the training.
3. ``eval``: ``seal-gym eval squad`` on the held-out passages in chunks of ``--chunk`` passages and one group
   of conditions per run folder ``OUT/heldout/chunk-NNN/GROUP`` (a finished one is not run again):
   ``baselines`` (the passage alone, the dataset's 7B self-edits, the prompt ensemble) and one group per
   writer (``file-self-edits-WRITER``). Every run trains the same model with the same inner seeds on the
   same passages, and each passage in an engine call of its own (``--groups-per-call 1``), so conditions pair
   by passage across run folders.
4. ``report``: every run pooled by passage; each condition's paired difference from the passage alone and
   from the untrained writer, per metric (mean, 95 % bootstrap interval, Wilcoxon p), as a table,
   ``OUT/report.json``, ``OUT/paired.png`` and ``OUT/primary.png``; and the primary comparison, fixed before
   any held-out result existed: each trained writer minus the untrained one in ``PRIMARY_METRIC``, its p-value
   Holm-adjusted over the trained writers.

    python studies/optimizer_experiment.py --out studies/optimizers --dataset ../shared/data/squad/train.json
    python studies/optimizer_experiment.py --out studies/optimizers --dataset ../shared/data/squad/train.json \
        --stage train --agents grpo
    python studies/optimizer_experiment.py --out studies/optimizers --dataset ../shared/data/squad/train.json \
        --stage eval --groups untrained,grpo
    python studies/optimizer_experiment.py --out studies/optimizers --stage report     # needs no dataset
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from study_runs import (finished_in, mixed_versions, names, pooled, read_json, seal_gym, train_or_resume,  # noqa: E402
                        write_json)

BASELINES = "passage,file-self-edits,prompt-ensemble"
UNTRAINED = "untrained"
REFERENCES = ("passage", f"file_self_edits_{UNTRAINED}")
METRICS = ("logprob", "f1", "exact", "strict", "recital", "words")
PRIMARY_METRIC = "logprob"
"""The primary outcome, fixed before the held-out evaluation ran: the gold answers' mean per-token log-probability
(the SNR study's only reward with more signal than noise at 135M)."""


def train(out: Path, dataset: str, agents: list[str], seeds: list[int], threads: int, options: list[str] = (),
          allow_dirty: bool = False) -> dict[str, str]:
    """Train (or resume) every agent's run for every training seed; ``{AGENT-seedN: run folder}``.

    A finished run's small files (TensorBoard events, episodes, config: the reward curves) are copied to
    ``OUT/curves/AGENT-seedN`` and its trained policy is published to ``OUT/writers/AGENT-seedN``
    (:func:`seal_gym.agents.publish_writer`, hashed): both are committed; its checkpoints are not. A run that
    has written its held-out self-edits is not trained again, even where its run folder is gone. A new run
    refuses to start from a checkout with uncommitted changes (its code would not be on record) unless
    ``allow_dirty``.
    """
    from seal_gym.agents import publish_writer

    state = read_json(out / "state.json", {})

    def remember(key: str, folder: str) -> None:
        state[key] = folder
        write_json(out / "state.json", state)

    for agent in agents:
        for seed in seeds:
            key = f"{agent}-seed{seed}"
            if (out / "self_edits" / f"{key}.json").exists():
                print(f"{key}: its held-out self-edits are written; not trained again", flush=True)
                continue
            start = ["train", "--preset", "cpu", "--dataset", f"{dataset}@train", "--agent", agent, "--seed",
                     str(seed), "--runs-dir", str(out / "runs"), *options]
            code = train_or_resume(key, state.get(key), start, threads, out / f"train-{key}.log",
                                   lambda folder, k=key: remember(k, folder), allow_dirty)
            print(f"{key}: exit {code}, run folder {state.get(key)}", flush=True)
            if code != 0:
                raise SystemExit(f"seal-gym train for {key} failed: see {out / f'train-{key}.log'}")
            keep_curves(Path(state[key]), out / "curves" / key)
            manifest = publish_writer(state[key], out / "writers" / key)
            print(f"{key}: writer published to {out / 'writers' / key} ({manifest['round']})", flush=True)
    return state


def keep_curves(run_dir: Path, to: Path) -> None:
    """Copy a run folder's files, without its checkpoints, to ``to`` (replacing an earlier copy)."""
    import shutil

    shutil.rmtree(to, ignore_errors=True)
    shutil.copytree(run_dir, to, ignore=shutil.ignore_patterns("checkpoints", "*.safetensors", "lock"))


def heldout_documents(out: Path, dataset: str, passages: int) -> tuple[Path, int]:
    """The first ``passages`` held-out passages as a document file for ``seal-gym synthesize``, and their number."""
    from seal_gym.squad.passages import load_passages

    path = out / "heldout_passages.json"
    chosen = load_passages(f"{dataset}@heldout")[:passages]
    path.write_text(json.dumps([{"title": p.title, "context": p.context} for p in chosen], indent=1))
    return path, len(chosen)


def write(out: Path, dataset: str, runs: dict[str, str], passages: int, self_edits: int, seed: int,
          threads: int) -> dict[str, Path]:
    """``{writer: its self-edit file}``: the untrained writer's and each trained run's (written where missing)."""
    documents, wanted = heldout_documents(out, dataset, passages)
    files = {}
    for name, run_dir in [(UNTRAINED, None), *runs.items()]:
        path = out / "self_edits" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or len(json.loads(path.read_text())) < wanted:  # synthesize resumes a partial file
            args = ["synthesize", str(documents), "--out", str(path), "--n", str(self_edits), "--seed", str(seed),
                    "--threads", str(threads), *(["--policy", run_dir] if run_dir else [])]
            if seal_gym(args, out / "write.log") != 0:
                raise SystemExit(f"seal-gym synthesize for {name} failed: see {out / 'write.log'}")
        files[name] = path
    return files


def evaluate(out: Path, dataset: str, writers: dict[str, Path], passages: int, chunk: int,
             self_edits: tuple[int, int], seeds: int, seed: int, threads: int, groups_per_call: int = 1,
             only: set[str] | None = None, adapters_per_call: int | None = None) -> list[Path]:
    """Every run's results.json, chunk by chunk and group by group (running those that have none);
    ``self_edits``: per passage, (each writer's, each baseline's); ``only``: run only these groups now,
    leaving the others' unfinished chunks for a later call."""
    groups = {"baselines": ["--conditions", BASELINES, "--self-edits", str(self_edits[1])]}
    groups.update({name: ["--conditions", "file-self-edits", "--self-edits-file", f"{name}={path}", "--self-edits",
                          str(self_edits[0])] for name, path in writers.items()})
    if only is not None and only - set(groups):
        raise SystemExit(f"--groups: no group named {sorted(only - set(groups))}; the groups are {list(groups)}")
    found = []
    for start in range(0, passages, chunk):
        for group, conditions in groups.items():
            folder = out / "heldout" / f"chunk-{start:03d}" / group
            done = finished_in(folder)
            if not done and only is not None and group not in only:
                continue
            if not done:
                args = ["eval", "squad", "--dataset", f"{dataset}@heldout", "--start", str(start), "--passages",
                        str(min(chunk, passages - start)), "--inner-preset", "small", *conditions, "--inner-seeds",
                        str(seeds), "--seed", str(seed), "--threads", str(threads), "--groups-per-call",
                        str(groups_per_call), "--runs-dir", str(folder),
                        *(["--adapters-per-call", str(adapters_per_call)] if adapters_per_call else [])]
                if seal_gym(args, out / "heldout.log") != 0:
                    raise SystemExit(f"seal-gym eval squad failed ({group}, passages {start}+): see {out / 'heldout.log'}")
                done = finished_in(folder)
            found.append(done)
    return found


def finished_runs(out: Path) -> list[Path]:
    """The newest results.json of every chunk and group evaluated so far."""
    return [p for folder in sorted((out / "heldout").glob("chunk-*/*")) for p in [finished_in(folder)] if p]


def report(out: Path, results_files: list[Path], seed: int) -> str:
    """Paired differences of the pooled chunks from each reference: a table, report.json, paired.png (every
    metric against the passage) and primary.png (``PRIMARY_METRIC`` against the untrained writer)."""
    from seal_gym.evaluation.reports import (BOOTSTRAP_RESAMPLES, paired_chart, paired_json, paired_score_lines,
                                             paired_table)

    cells, labels = pooled(results_files)
    texts, sections = [], {}
    for reference in (r for r in REFERENCES if r in cells):
        lines = paired_score_lines(cells, labels, reference, metrics=METRICS, seed=seed, n_boot=BOOTSTRAP_RESAMPLES)
        texts.append(paired_table(lines, labels[reference]))
        sections[reference] = paired_json(lines, reference, seed, BOOTSTRAP_RESAMPLES)
        if reference == "passage" and lines:
            paired_chart(lines, "Held-out passages: paired differences from the passage alone",
                         labels[reference]).savefig(out / "paired.png", dpi=120, bbox_inches="tight")
        primary_lines = [line for line in lines if line.metric == PRIMARY_METRIC]
        if reference == REFERENCES[1] and primary_lines:
            paired_chart(primary_lines, "Held-out passages: each writer minus the untrained writer",
                         labels[reference]).savefig(out / "primary.png", dpi=120, bbox_inches="tight")
    primary = primary_comparison(sections.get(REFERENCES[1], {}).get("lines", []))
    if primary:
        texts.append("primary comparison (stated before the evaluation): each trained writer minus the untrained one, "
                     f"{PRIMARY_METRIC}, Wilcoxon p Holm-adjusted over the {len(primary)} trained writers\n" +
                     "\n".join(f"  {row['label']}: {_number(row['mean'], '+.3f')} [{_number(row['low'], '+.3f')}, "
                               f"{_number(row['high'], '+.3f')}], p {_number(row['p_value'], '.3g')}, "
                               f"Holm {_number(row['p_holm'], '.3g')}" for row in primary))
    passages = len({i for c in cells.values() for i in c})
    mixed = mixed_versions(results_files)
    if mixed:
        texts.insert(0, f"WARNING: the pooled runs differ in package versions {mixed}: rerun some under one set")
    (out / "report.json").write_text(json.dumps({"passages": passages, "chunks": [str(p) for p in results_files],
                                                 "mixed_versions": mixed, "labels": labels, "paired": sections,
                                                 "primary": primary}, indent=1))
    return f"{passages} held-out passages\n\n" + "\n\n".join(texts)


def primary_comparison(untrained_lines: list[dict]) -> list[dict]:
    """The primary test's rows: each trained writer's ``PRIMARY_METRIC`` line against the untrained writer
    (report.json's form), with its Wilcoxon p-value Holm-adjusted over the trained writers (``p_holm``)."""
    from seal_gym.stats import holm_adjusted

    rows = [line for line in untrained_lines if line["metric"] == PRIMARY_METRIC
            and line["condition"].startswith("file_self_edits_")]
    adjusted = holm_adjusted([math.nan if row["p_value"] is None else row["p_value"] for row in rows])
    return [{**row, "p_holm": None if math.isnan(p) else p} for row, p in zip(rows, adjusted)]


def _number(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the study's folder")
    parser.add_argument("--dataset", default=None,
                        help="SEAL's SQuAD train.json (its train and heldout splits); every stage but report needs it")
    parser.add_argument("--stage", choices=("all", "train", "write", "eval", "report"), default="all")
    parser.add_argument("--agents", default="rest-em,grpo,ppo", help="the agents to train and whose writers to use")
    parser.add_argument("--passages", type=int, default=40, help="held-out passages (train.json has 40)")
    parser.add_argument("--chunk", type=int, default=10, help="held-out passages per eval run")
    # 2 self-edits per passage and writer: 40 passages then detect about half an SD of self-edit quality (the
    # SNR study); a baseline either has no sampling noise (the passage) or is not what the experiment compares.
    parser.add_argument("--self-edits", type=int, default=2, help="self-edits per passage and writer")
    parser.add_argument("--baseline-self-edits", type=int, default=1,
                        help="self-edits per passage of the 7B file and the prompt ensemble")
    parser.add_argument("--inner-seeds", type=int, default=1, help="inner-loop seeds per self-edit")
    parser.add_argument("--seed", type=int, default=0, help="the evaluation's seed (self-edit sampling, inner seeds)")
    parser.add_argument("--train-seeds", default="0", help="train: the training seeds, e.g. '0,1,2'")
    parser.add_argument("--allow-dirty", action="store_true",
                        help="train: start runs from a checkout with uncommitted changes (each run keeps its diff)")
    parser.add_argument("--threads", type=int, default=2)
    # 1, as chunk-000's baselines ran: every group is then evaluated the same way. Batching several passages
    # into a call changes the scores on the embedded model (RESULTS.md, "eval squad --groups-per-call"), a
    # difference of procedure that a comparison across groups must not carry.
    parser.add_argument("--groups-per-call", type=int, default=1, help="passages per inner-loop engine call in eval")
    parser.add_argument("--adapters-per-call", type=int, default=None,
                        help="eval: at most this many adapters an engine call; 1 (a confirmatory study's setting) trains "
                             "every condition's adapter alone, so conditions in different groups pair exactly")
    parser.add_argument("--groups", default="",
                        help="eval: run only these groups now, e.g. 'untrained,grpo' (default: every group)")
    parser.add_argument("--train-options", default="",
                        help="more `seal-gym train` options, e.g. a smoke budget: '--rounds 1 --samples-per-prompt 2'")
    args = parser.parse_args(argv)
    if args.dataset is None and args.stage != "report":
        parser.error(f"--stage {args.stage} needs --dataset (SEAL's SQuAD train.json)")
    args.out.mkdir(parents=True, exist_ok=True)
    agents = names(args.agents)
    state_path = args.out / "state.json"
    runs = train(args.out, args.dataset, agents, [int(s) for s in names(args.train_seeds)], args.threads,
                 shlex.split(args.train_options), args.allow_dirty) if args.stage in ("all", "train") else \
        json.loads(state_path.read_text()) if state_path.exists() else {}
    # a run's key is AGENT-seedN (the first study's, AGENT, was seed 0)
    runs = {key: run for key, run in runs.items() if key.rsplit("-seed", 1)[0] in agents}
    if args.stage in ("all", "write"):
        write(args.out, args.dataset, runs, args.passages, args.self_edits, args.seed, args.threads)
    if args.stage in ("all", "eval"):
        writers = {path.stem: path for path in sorted((args.out / "self_edits").glob("*.json"))}
        evaluate(args.out, args.dataset, dict(sorted(writers.items(), key=lambda item: item[0] != UNTRAINED)), args.passages,
                 args.chunk, (args.self_edits, args.baseline_self_edits), args.inner_seeds, args.seed, args.threads,
                 args.groups_per_call, set(names(args.groups)) or None, args.adapters_per_call)
    if args.stage in ("all", "eval", "report"):
        print(report(args.out, finished_runs(args.out), args.seed))


if __name__ == "__main__":
    main()
