"""The options of ``seal-gym`` commands, generated from config dataclasses so that every default and its help
live in one place.

A field's help is the docstring written under it (as in the dataclasses of :mod:`seal_gym.adapt.types`).
Supported field types: ``bool`` (``--x/--no-x``), ``int``, ``float``, ``str``, ``Literal[...]`` (choices),
``tuple[str, ...]`` / ``tuple[int, ...]`` (comma-separated), and ``X | None`` of those (``none`` on the
command line). Nested dataclass fields are skipped: give them options of their own with a ``prefix``.

Also here, the option groups several commands share: the runtime options (:func:`add_runtime_arguments` /
:func:`apply_runtime`: ``--threads``), the model options of the eval commands and the passage options of the
SQuAD-style evaluations. How help is shown is :mod:`seal_gym.commands.help`'s; which options the command line
named, :mod:`seal_gym.commands.parser`'s.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import inspect
import textwrap
import types
import typing
from typing import Any, Literal


def field_docs(cls: type) -> dict[str, str]:
    """``{field: first line of the docstring under it}`` for a dataclass and its bases."""
    return dict(_field_docs(cls))


@functools.cache  # parsing a class's source is the slow part of building the seal-gym parser: once per class
def _field_docs(cls: type) -> dict[str, str]:
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__[:-1]):
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, following in zip(body, body[1:]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(following, ast.Expr)
                    and isinstance(following.value, ast.Constant) and isinstance(following.value.value, str)):
                docs[node.target.id] = " ".join(following.value.value.strip().split("\n\n")[0].split())
    return docs


def _parser_for(annotation: Any) -> tuple[Any, dict[str, Any]] | None:
    """``(converter, extra add_argument kwargs)`` for a field type, or ``None`` if it has no CLI form."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        inner = [a for a in args if a is not type(None)]
        parsed = _parser_for(inner[0]) if len(inner) == 1 else None
        if parsed is None:
            return None
        convert, extra = parsed
        return (lambda text: None if text.lower() == "none" else convert(text)), {k: v for k, v in extra.items() if k != "choices"}
    if origin is Literal:
        return type(args[0]), {"choices": list(args)}
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis and args[0] in (str, int, float):
        item = args[0]
        return (lambda text: tuple(item(x) for x in text.split(",") if x)), {"metavar": f"{item.__name__},..."}
    if annotation in (int, float, str):
        return annotation, {}
    return None


def option_parser(cls: type, name: str) -> tuple[Any, dict[str, Any]] | None:
    """``(converter, extra add_argument kwargs)`` for the field ``name`` of the dataclass ``cls``, or ``None``
    if its type has no command-line form."""
    return _parser_for(_type_hints(cls)[name])


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def add_field_argument(group: Any, cls: type, name: str, option: str, dest: str, default: Any,
                       help_text: str | None) -> bool:
    """Add the option ``option`` for the field ``name`` of the dataclass ``cls`` (``--x/--no-x`` for a bool);
    ``False`` if the field's type has no command-line form (a nested dataclass: give it a prefix of its own)."""
    if _type_hints(cls)[name] is bool:
        group.add_argument(option, dest=dest, action=argparse.BooleanOptionalAction, default=default, help=help_text)
        return True
    parsed = option_parser(cls, name)
    if parsed is None:
        return False
    convert, extra = parsed
    # No "(default: ...)" here: HelpFormatter adds it, once, in the same form for every option.
    group.add_argument(option, dest=dest, type=convert, default=default, help=help_text or None, **extra)
    return True


def add_config_arguments(parser: argparse.ArgumentParser, cls: type, prefix: str = "", defaults: Any = None,
                         skip: tuple[str, ...] = (), alias_prefix: str | None = None) -> None:
    """Add one ``--{prefix}{field}`` option per field of the dataclass ``cls`` (defaults from ``defaults``,
    an instance, or the class's own). With ``alias_prefix``, ``--{alias_prefix}{field}`` is accepted too,
    left out of the help (an old name kept working), unless ``seal-gym train`` gives that name another meaning
    (``--epochs``, ``--learning-rate``: the agent's): one option name, one meaning, in every command."""
    docs = field_docs(cls)
    defaults = defaults if defaults is not None else cls()
    group = parser.add_argument_group(f"{cls.__name__} ({prefix or 'no prefix'})" if prefix else cls.__name__)
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        dest = (prefix + f.name).replace("-", "_")
        added = add_field_argument(group, cls, f.name, "--" + (prefix + f.name).replace("_", "-"), dest,
                                   getattr(defaults, f.name), docs.get(f.name, ""))
        if added and alias_prefix is not None and alias_prefix + f.name not in agent_option_names():
            add_field_argument(group, cls, f.name, "--" + (alias_prefix + f.name).replace("_", "-"), dest,
                               argparse.SUPPRESS, argparse.SUPPRESS)


@functools.cache
def agent_option_names() -> frozenset[str]:
    """The fields of every agent's config (``seal-gym train``'s options for them), ``seed`` included."""
    from seal_gym.agents import AGENTS

    return frozenset(f.name for agent in AGENTS.values() for f in dataclasses.fields(agent.config_class))


def config_from_args(args: argparse.Namespace, cls: type, prefix: str = "", base: Any = None, **overrides: Any) -> Any:
    """The ``cls`` instance the parsed options describe (fields without an option come from ``base``)."""
    base = base if base is not None else cls()
    values = {f.name: getattr(args, (prefix + f.name).replace("-", "_")) for f in dataclasses.fields(cls)
              if hasattr(args, (prefix + f.name).replace("-", "_"))}
    return dataclasses.replace(base, **values, **overrides)


def _markdown_value(value: Any) -> str:
    """A default as Python source (what a user writes), nested dataclasses by the fields they change."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changed = [f"{f.name}={_markdown_value(getattr(value, f.name))}" for f in dataclasses.fields(value)
                   if getattr(value, f.name) != getattr(type(value)(), f.name)]
        return f"{type(value).__name__}({', '.join(changed)})"
    return repr(value).replace("'", '"')


def markdown_table(cls: type, columns: dict[str, Any] | None = None) -> str:
    """A Markdown table of the dataclass's fields: name, value in each of ``columns`` (heading -> instance;
    default ``{"default": cls()}``), and the docstring under the field. The tables of LoraSpec, TrainSpec
    and TTTConfig in docs/envs.md are this function's output (tests/test_readme.py keeps them equal).

    >>> from seal_gym.adapt import LoraSpec
    >>> print("\\n".join(markdown_table(LoraSpec).splitlines()[:3]))
    | field | default | meaning |
    |---|---|---|
    | `rank` | `32` | LoRA rank r. |
    """
    columns = columns if columns is not None else {"default": cls()}
    docs = field_docs(cls)
    rows = ["| field | " + " | ".join(columns) + " | meaning |", "|---|" + "---|" * len(columns) + "---|"]
    for f in dataclasses.fields(cls):
        if f.init:
            values = " | ".join(f"`{_markdown_value(getattr(c, f.name))}`" for c in columns.values())
            rows.append(f"| `{f.name}` | {values} | {docs.get(f.name, '').replace('|', '/')} |")
    return "\n".join(rows)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options every command that runs a model takes: ``--threads``.

    A command calls this in ``add_arguments(parser)``, then :func:`apply_runtime` first thing in
    ``run(args)``, and records :func:`seal_gym.runs.run_metadata` (which reads the thread count back) in
    its run folder.
    """
    group = parser.add_argument_group("runtime")
    group.add_argument("--threads", type=_positive_int, default=None,
                       help="torch CPU threads (torch.set_num_threads); default: torch's choice, one per core. "
                            "Jobs sharing cores slow each other down (up to 9x seen on 2 cores): give each its share")
    group.add_argument("--debug", action="store_true",
                       help="show the whole traceback of a failure (by default: one line with its type and message)")


def apply_runtime(args: argparse.Namespace) -> int:
    """Apply what :func:`add_runtime_arguments` parsed: ``torch.set_num_threads(args.threads)`` when given.

    Returns the number of torch threads in use afterwards.
    """
    import torch  # here, not at the top: ``seal-gym --help`` stays fast

    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    return torch.get_num_threads()


def add_model_arguments(parser: argparse.ArgumentParser, policy: str | None = "one") -> None:
    """Options every eval command takes: the model, where runs go, runtime (threads), and a trained policy:
    ``policy="one"`` adds ``--policy RUN_DIR``; ``"many"`` lets it be repeated, each ``[NAME=]RUN_DIR`` (and
    ``args.policy`` is a list); ``None`` leaves it out, for a command that has no use for one."""
    parser.add_argument("--model", default=None, help="model name/path; default: embedded SmolLM2-135M-Instruct")
    if policy == "many":
        parser.add_argument("--policy", action="append", default=None, metavar="[NAME=]RUN_DIR",
                            help="a `seal-gym train` run folder: its newest checkpoint writes self-edits too; repeat "
                                 "it to compare several trained writers on the same passages and seeds (each "
                                 "becomes the condition policy-self-edits-NAME; NAME defaults to the folder's name)")
    elif policy == "one":
        parser.add_argument("--policy", default=None, metavar="RUN_DIR",
                            help="a `seal-gym train` run folder: its newest checkpoint writes self-edits too")
    parser.add_argument("--runs-dir", default="runs", help="parent folder of the new run folder")
    add_runtime_arguments(parser)


def add_passage_arguments(parser: argparse.ArgumentParser, passages: int, passages_help: str) -> None:
    """Options of the SQuAD-style evaluations: which passages, how self-edits are prompted, sampled and graded."""
    parser.add_argument("--dataset", default="demo", help="'demo', a SEAL-format JSON path, or 'hf:squad'")
    parser.add_argument("--passages", type=int, default=passages, help=passages_help)
    parser.add_argument("--start", type=int, default=0, help="index of the first passage")
    add_prompt_style_argument(parser)
    parser.add_argument("--grader", default="contains", choices=["contains", "f1", "exact"],
                        help="strict grader: contains (credits a recital holding the gold span), f1, or exact (exact "
                             "match of the concise answer)")
    parser.add_argument("--answer-style", default="free", choices=["free", "short"],
                        help="free: the question as SEAL asks it; short: asks for just the answer, in a few words")
    parser.add_argument("--score-logprob", action=argparse.BooleanOptionalAction, default=True,
                        help="also score each gold answer's log-probability after the update (teacher-forced)")
    add_sampling_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="seeds sampling and the inner loop")


def add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    """The self-edit sampling options, named as ``seal-gym train`` names them (``--sample-temperature``,
    ``--sample-max-new-tokens``; the old ``--temperature`` and ``--max-self-edit-tokens`` still work, hidden).
    :func:`sampling_from_args` reads them back."""
    group = parser.add_argument_group("sampling (train's --sample-* options)")
    add_renamed_argument(group, "--sample-temperature", "--temperature", type=float, default=0.7,
                          dest="temperature", help="the model's self-edit sampling temperature (0: greedy)")
    add_renamed_argument(group, "--sample-max-new-tokens", "--max-self-edit-tokens", type=int, default=256,
                          dest="max_self_edit_tokens", help="the model's self-edit length limit, in tokens")


def sampling_from_args(args: argparse.Namespace, **fields: Any):
    """The :class:`~seal_gym.agents.policy.SamplingConfig` of :func:`add_sampling_arguments`' options (and
    ``fields``); an out-of-range value is a ``UsageError`` naming the option."""
    from seal_gym.commands.common import UsageError
    from seal_gym.sampling import SamplingConfig

    try:
        config = SamplingConfig(temperature=args.temperature, max_new_tokens=args.max_self_edit_tokens, **fields)
        config.check_choices()
        return config
    except ValueError as err:
        name = str(err).split(" ", 1)[0]
        option = {"temperature": "--sample-temperature", "max_new_tokens": "--sample-max-new-tokens"}.get(name, name)
        raise UsageError(f"{option}: {err}") from None


def add_renamed_argument(parser: Any, name: str, old_name: str, **kwargs: Any) -> None:
    """An option named as ``seal-gym train`` names the same setting, and its old name as a hidden alias (left
    out of the help and the usage; its value goes to the same ``dest``)."""
    parser.add_argument(name, **kwargs)
    parser.add_argument(old_name, **{**kwargs, "default": argparse.SUPPRESS, "help": argparse.SUPPRESS})


def add_prompt_style_argument(parser: argparse.ArgumentParser) -> None:
    """``--prompt-style``: how a SQuAD-style writer is prompted (every command that writes or trains self-edits)."""
    from seal_gym.squad.prompts import PROMPT_STYLES

    parser.add_argument("--prompt-style", default="implications", choices=sorted(PROMPT_STYLES),
                        help="how the writer is asked for a self-edit, and how its text splits into training items")
