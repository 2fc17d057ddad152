"""Published writers' files: where each one is, and keeping the big ones out of the branch.

`seal-gym writers PATH...` lists each file of each published writer folder (a ``writer.json``) with where it
is: here, in a store folder ($SEAL_GYM_WRITER_STORE), in git (a blob on any ref, e.g. ``refs/writers/*``, which
``git clone`` leaves behind: ``git fetch origin 'refs/writers/*:refs/writers/*'`` brings them), changed or
missing; it exits with 1 if any file is changed or missing. ``--keep-in-git`` writes each writer's tensors as
git blobs under ``refs/writers/<sha256>`` (push them with ``git push origin 'refs/writers/*'``);
``--copy-to DIR`` copies every file into the store folder DIR (named by sha256), e.g. to pack and share;
``--restore`` puts the files that are not in a writer's folder back into it (for tools that read the folder).
A writer whose files are only in git or a store loads as any other (``--policy``): they are fetched into the
cache on first use and checked against their sha256.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="published writer folders (each holds writer.json)")
    parser.add_argument("--keep-in-git", action="store_true",
                        help="write the writers' tensor files as git blobs under refs/writers/<sha256>")
    parser.add_argument("--copy-to", default=None, metavar="DIR",
                        help="copy every file of the writers into the store folder DIR, named by sha256")
    parser.add_argument("--restore", action="store_true",
                        help="put each writer's files that are not in its folder back into it (from git or a store)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from seal_gym.agents import writer_store
    from seal_gym.commands.common import UsageError, usage_error

    broken = 0
    try:
        for path in args.paths:
            if not (Path(path) / writer_store.WRITER_JSON).is_file():
                raise UsageError(f"{path} is not a published writer (no {writer_store.WRITER_JSON} in it)")
            if args.restore:  # first: --keep-in-git needs the files here
                for name in writer_store.restore_writer(path):
                    print(f"{path}: {name} restored")
            if args.keep_in_git:
                for ref in writer_store.keep_in_git(path):
                    print(f"{path}: kept as {ref}")
            if args.copy_to:
                added = writer_store.copy_to_store(path, args.copy_to)
                print(f"{path}: {added} file(s) copied to {args.copy_to}")
            for name, where in writer_store.file_sources(path).items():
                print(f"{path}/{name}: {where}")
                broken += where in ("changed", "missing")
    except (UsageError, OSError, ValueError) as err:  # OSError: a missing file, git not installed
        return usage_error("writers", err)
    return 1 if broken else 0
