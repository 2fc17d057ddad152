"""Issue 33: the seal-gym parser knows its options and which ones the command line gave without argparse's private
internals, and an option name means one thing in every command."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

import seal_gym
from seal_gym.cli import SUBCOMMANDS, build_parser, main
from seal_gym.commands.parser import GIVEN, ArgumentParser, note_given_options


def _argparse_private_names() -> set[str]:
    """The private attributes of argparse's parsers, groups, actions and namespaces (``_actions``, ...)."""
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    objects = [parser, parser.add_argument_group("g"), parser.add_mutually_exclusive_group(), subparsers,
               subparsers.add_parser("c"), parser.add_argument("--x"), argparse.Namespace()]
    return {n for o in objects for n in dir(o) if n.startswith("_") and not n.startswith("__")}


def test_no_module_uses_argparse_private_attributes():
    """HelpFormatter's hooks (``_fill_text``, ...) are the one way argparse offers to change how help looks, and
    belong to formatters, not to parsers: they are not in the list."""
    private = _argparse_private_names()
    assert {"_actions", "_option_string_actions", "_group_actions", "_registry_get"} <= private
    attribute = re.compile(r"\.(_[A-Za-z]\w*)\b")
    found = []
    for path in sorted(Path(seal_gym.__file__).parent.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if (any(name in private for name in attribute.findall(code)) or re.search(r"argparse\._", code)
                    or re.search(r"\.__class__\s*=[^=]", code)):
                found.append(f"{path.relative_to(Path(seal_gym.__file__).parent.parent)}:{number}: {line.strip()}")
    assert not found, "argparse internals used:\n" + "\n".join(found)


def _parser() -> ArgumentParser:
    parser = ArgumentParser()
    parser.add_argument("--rate", type=float, default=0.1)
    group = parser.add_argument_group("settings")
    group.add_argument("--merge", action=argparse.BooleanOptionalAction, default=True)
    group.add_argument("--old-rate", dest="rate", type=float, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    group.add_argument("--import", dest="imports", action="append", default=None)
    parser.add_argument("--debug", action="store_true")
    parser.add_argument("path", nargs="?", default="x")
    return parser


def test_given_options_are_noted_with_the_option_string_used():
    parser = _parser()
    note_given_options(parser)
    parser.add_argument("--later", default="a")  # added after the call: noted too (train's --env-import domains)
    args = parser.parse_args(["--rate", "0.1", "--no-merge", "--import", "a", "--import", "b", "--later", "a", "p"])
    assert getattr(args, GIVEN) == {"rate": "--rate", "merge": "--no-merge", "imports": "--import", "later": "--later"}
    assert args.rate == 0.1 and args.merge is False and args.imports == ["a", "b"] and args.path == "p"
    assert getattr(parser.parse_args(["--old-rate", "0.5", "--debug"]), GIVEN) == {"rate": "--old-rate",
                                                                                     "debug": "--debug"}
    args = parser.parse_args([])
    assert not hasattr(args, GIVEN) and args.rate == 0.1 and args.merge is True and args.path == "x"


def test_a_parser_that_does_not_ask_notes_nothing_and_a_plain_parser_is_refused():
    assert not hasattr(_parser().parse_args(["--rate", "1"]), GIVEN)  # nor in what a run records of its args
    with pytest.raises(TypeError, match="ArgumentParser"):
        note_given_options(argparse.ArgumentParser())


def test_the_parser_records_its_options_and_subcommands():
    parser = _parser()
    assert [o for a in parser.options for o in a.option_strings] == [
        "-h", "--help", "--rate", "--merge", "--no-merge", "--old-rate", "--import", "--debug"]
    root = build_parser()
    assert set(root.subcommands.choices) == set(SUBCOMMANDS)
    squad = root.subcommands.choices["eval"].subcommands.choices["squad"]
    options = {o for a in squad.options for o in a.option_strings}
    assert {"--inner-epochs", "--threads", "--sample-temperature", "--seeds", "--inner-preset"} <= options


def test_train_and_eval_squad_note_what_was_given():
    args = build_parser().parse_args(["train", "--preset", "smoke", "--epochs", "1", "--no-merge", "--debug"])
    assert getattr(args, GIVEN) == {"preset": "--preset", "epochs": "--epochs", "merge": "--no-merge",
                                    "debug": "--debug"}
    args = build_parser().parse_args(["eval", "squad", "--inner-epochs", "3", "--answer-style", "free"])
    assert getattr(args, GIVEN) == {"inner_epochs": "--inner-epochs", "answer_style": "--answer-style"}
    assert not hasattr(build_parser().parse_args(["eval", "arc", "--tasks", "1"]), GIVEN)


def test_an_option_given_at_its_default_is_refused_with_resume(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path), "--preset", "demo"]) == 2  # demo: the default
    assert "--preset cannot be given with --resume" in capsys.readouterr().err


def _all_parsers(parser: ArgumentParser, name: str = "seal-gym"):
    yield name, parser
    for child_name, child in (parser.subcommands.choices.items() if parser.subcommands else ()):
        yield from _all_parsers(child, f"{name} {child_name}")


def test_a_hidden_old_name_is_no_other_commands_option():
    """An old name kept working (hidden) must not be what another command shows under that name: --learning-rate
    was train's policy rate and eval's hidden alias of the inner loop's."""
    visible, hidden = {}, {}
    for name, parser in _all_parsers(build_parser()):
        for action in parser.options:
            for option in action.option_strings:
                (hidden if action.help == argparse.SUPPRESS else visible).setdefault(option, name)
    both = {option: (hidden[option], visible[option]) for option in set(hidden) & set(visible)}
    assert not both, f"hidden in one command, shown in another: {both}"


@pytest.mark.parametrize("command,option,meant", [
    *[(c, f"--{o}", f"--inner-{o}") for c in (["eval", "squad"], ["eval", "continual"], ["eval", "memory"],
                                               ["memory", "update", "--kb", "kb"])
      for o in ("learning-rate", "epochs", "batch-size", "max-grad-norm")],
    (["eval", "arc"], "--batch-size", "--ttt-batch-size"), (["eval", "arc"], "--max-grad-norm", "--ttt-max-grad-norm"),
])
def test_an_agent_option_name_elsewhere_fails_in_one_line_naming_the_option_meant(command, option, meant, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, option, "1"])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1
    assert f"unrecognized arguments: {option} 1 (did you mean {meant}?)" in err


def _every_parser(parser):
    yield parser
    for child in (parser.subcommands.choices.values() if parser.subcommands else ()):
        yield from _every_parser(child)


def test_every_visible_option_of_every_command_has_help():
    """Option help comes from the docstring under each config field (read from the class's source): a field
    without one, or a source that cannot be read, would show an option with no help, and fails here."""
    missing = [f"{parser.prog} {action.option_strings[0]}" for parser in _every_parser(build_parser())
               for action in parser.options
               if action.option_strings and action.help != argparse.SUPPRESS and not (action.help or "").strip()]
    assert not missing, missing
