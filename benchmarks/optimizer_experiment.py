"""Which optimizer makes the model's own self-edits teach it more: issue 17's experiment, resumable.

1. ``train``: one ``seal-gym train --preset cpu`` run per agent (self mode on SealSquad-v0, train.json's
   ``train`` split, the small-model inner loop, the reward ``answer_logprob_vs_passage``). A run that was
   stopped is resumed (``--resume``); its folder is recorded in ``OUT/state.json`` as soon as it exists.
2. ``eval``: ``seal-gym eval squad`` on train.json's ``heldout`` split, which no training round and no tuning
   saw, in chunks of ``--chunk`` passages (each chunk one run folder under ``OUT/heldout``; a finished chunk is
   not run again). Every chunk pairs, on the same passages and inner seeds: the untrained writer
   (``base-self-edits``), each trained writer (``policy-self-edits-AGENT``), the passage alone, the dataset's
   7B self-edits (``file-self-edits``) and the prompt ensemble.
3. ``report``: the chunks pooled by passage; each condition's paired difference from the passage alone and
   from the untrained writer, per metric (mean, 95 % bootstrap interval, Wilcoxon p), as a table,
   ``OUT/report.json`` and ``OUT/paired.png``.

    python benchmarks/optimizer_experiment.py --out benchmarks/studies/optimizers            # all three stages
    python benchmarks/optimizer_experiment.py --out benchmarks/studies/optimizers --stage report
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAIN_JSON = ROOT.parent / "shared" / "data" / "squad" / "train.json"
CONDITIONS = "base-self-edits,passage,file-self-edits,prompt-ensemble"
REFERENCES = ("passage", "base_self_edits")


def seal_gym(args: list[str], log: Path, on_line=None) -> int:
    """Run ``seal-gym ARGS`` with its output appended to ``log`` (and each line given to ``on_line``)."""
    command = [sys.executable, "-m", "seal_gym.cli", *args]
    with open(log, "a") as out:
        out.write(f"$ seal-gym {' '.join(args)}\n")
        out.flush()
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in process.stdout:
            out.write(line)
            out.flush()
            if on_line:
                on_line(line)
        return process.wait()


def train(out: Path, agents: list[str], seed: int, threads: int) -> dict[str, str]:
    """Train (or resume) every agent's run; ``{agent: run folder}``."""
    state_path = out / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}

    def remember(agent: str, line: str) -> None:
        if line.startswith("run folder: "):
            state[agent] = line.removeprefix("run folder: ").strip()
            state_path.write_text(json.dumps(state, indent=1))

    for agent in agents:
        if agent in state:
            args = ["train", "--resume", state[agent]]
        else:
            args = ["train", "--preset", "cpu", "--agent", agent, "--seed", str(seed), "--threads", str(threads),
                    "--runs-dir", str(out / "runs")]
        code = seal_gym(args, out / f"train-{agent}.log", lambda line, a=agent: remember(a, line))
        print(f"{agent}: exit {code}, run folder {state.get(agent)}", flush=True)
        if code != 0:
            raise SystemExit(f"seal-gym train for {agent} failed: see {out / f'train-{agent}.log'}")
    return state


def evaluate(out: Path, runs: dict[str, str], passages: int, chunk: int, seed: int, threads: int) -> list[Path]:
    """Every chunk's results.json (running the chunks that have none)."""
    found = []
    for start in range(0, passages, chunk):
        folder = out / "heldout" / f"chunk-{start:03d}"
        done = sorted(folder.glob("*/results.json"))
        if not done:
            args = ["eval", "squad", "--dataset", f"{TRAIN_JSON}@heldout", "--start", str(start),
                    "--passages", str(min(chunk, passages - start)), "--inner-preset", "small", "--conditions",
                    CONDITIONS, "--reference", ",".join(REFERENCES), "--seed", str(seed), "--threads", str(threads),
                    "--runs-dir", str(folder)]
            for agent, run_dir in runs.items():
                args += ["--policy", f"{agent}={run_dir}"]
            if seal_gym(args, out / "heldout.log") != 0:
                raise SystemExit(f"seal-gym eval squad failed on passages {start}+: see {out / 'heldout.log'}")
            done = sorted(folder.glob("*/results.json"))
        found.append(done[-1])
    return found


def pooled(results_files: list[Path]) -> tuple[dict[str, dict[int, dict[str, float]]], dict[str, str]]:
    """``{condition: {passage: {metric: value}}}`` over every chunk, and the conditions' labels."""
    cells: dict[str, dict[int, dict[str, float]]] = {}
    labels: dict[str, str] = {}
    for path in results_files:
        results = json.loads(path.read_text())
        labels.update(results["labels"])
        for passage in results["passages"]:
            for name, cell in passage["conditions"].items():
                metrics = {"strict": cell["strict"], "lenient": cell["lenient"], **cell.get("metrics", {})}
                cells.setdefault(name, {})[passage["index"]] = {k: float(v) for k, v in metrics.items()
                                                                 if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return cells, labels


def report(out: Path, results_files: list[Path], seed: int) -> str:
    """Paired differences of the pooled chunks from each reference: a table, report.json and paired.png."""
    from seal_gym.evaluation.reports import PairedLine, metric_unit, paired_chart, paired_table
    from seal_gym.stats import paired_difference

    cells, labels = pooled(results_files)
    texts, sections = [], {}
    for reference in REFERENCES:
        lines = []
        for name in labels:
            if name == reference or name not in cells or reference not in cells:
                continue
            for metric in ("logprob", "f1", "exact", "strict", "recital", "words"):
                scale, unit = metric_unit(metric)
                a = {i: scale * m[metric] for i, m in cells[name].items() if metric in m}
                b = {i: scale * m[metric] for i, m in cells[reference].items() if metric in m}
                if a and b:
                    lines.append(PairedLine(name, labels[name], metric, unit, reference,
                                            paired_difference(a, b, seed=seed)))
        texts.append(paired_table(lines, labels.get(reference, reference)))
        sections[reference] = [{"condition": line.condition, "metric": line.metric, "unit": line.unit,
                                **{k: None if v != v else v for k, v in asdict(line.difference).items()}}
                               for line in lines]
        if reference == "passage" and lines:
            paired_chart(lines, "Held-out passages: paired differences from the passage alone",
                         labels[reference]).savefig(out / "paired.png", dpi=120, bbox_inches="tight")
    passages = len({i for c in cells.values() for i in c})
    (out / "report.json").write_text(json.dumps({"passages": passages, "chunks": [str(p) for p in results_files],
                                                 "labels": labels, "paired": sections}, indent=1))
    return f"{passages} held-out passages\n\n" + "\n\n".join(texts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/studies/optimizers"))
    parser.add_argument("--stage", choices=("all", "train", "eval", "report"), default="all")
    parser.add_argument("--agents", default="rest-em,grpo,ppo")
    parser.add_argument("--passages", type=int, default=40, help="held-out passages (train.json has 40)")
    parser.add_argument("--chunk", type=int, default=10, help="held-out passages per eval run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    agents = [a.strip() for a in args.agents.split(",") if a.strip()]
    state_path = args.out / "state.json"
    runs = train(args.out, agents, args.seed, args.threads) if args.stage in ("all", "train") else \
        json.loads(state_path.read_text()) if state_path.exists() else {}
    if args.stage == "train":
        return
    if args.stage in ("all", "eval"):
        files = evaluate(args.out, {a: runs[a] for a in agents if a in runs}, args.passages, args.chunk, args.seed,
                         args.threads)
    else:
        files = [sorted(c.glob("*/results.json"))[-1] for c in sorted((args.out / "heldout").glob("chunk-*"))
                 if list(c.glob("*/results.json"))]
    print(report(args.out, files, args.seed))


if __name__ == "__main__":
    main()
